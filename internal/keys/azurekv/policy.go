package azurekv

import (
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"

	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

// toVault converts hallmark's certificate policy, which uses the field names
// of the az CLI's JSON, into the SDK's type, which the SDK sends with the
// REST API's names (key_props, x509_props ...). Only what the vault acts on
// is sent; lifetimeActions, attributes and the like are left to the vault's
// defaults.
func toVault(p *certpolicy.Policy) *azcertificates.CertificatePolicy {
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	strs := func(in []string) []*string {
		if in == nil {
			return nil
		}
		out := make([]*string, len(in))
		for i := range in {
			out[i] = &in[i]
		}
		return out
	}
	kt := azcertificates.KeyType(p.Key.KeyType)
	exportable := p.Key.Exportable
	kp := &azcertificates.KeyProperties{KeyType: &kt, Exportable: &exportable, ReuseKey: p.Key.ReuseKey}
	if p.Key.KeySize != 0 {
		size := int32(p.Key.KeySize)
		kp.KeySize = &size
	}
	if p.Key.Curve != "" {
		c := azcertificates.CurveName(p.Key.Curve)
		kp.Curve = &c
	}
	x := &azcertificates.X509CertificateProperties{Subject: str(p.X509.Subject), EnhancedKeyUsage: strs(p.X509.EKUs)}
	if p.X509.ValidityInMonths != 0 {
		v := int32(p.X509.ValidityInMonths)
		x.ValidityInMonths = &v
	}
	for _, u := range p.X509.KeyUsage {
		ku := azcertificates.KeyUsageType(u)
		x.KeyUsage = append(x.KeyUsage, &ku)
	}
	if s := p.X509.SubjectAlternativeNames; s != nil {
		x.SubjectAlternativeNames = &azcertificates.SubjectAlternativeNames{DNSNames: strs(s.DNSNames), Emails: strs(s.Emails)}
	}
	issuer := p.Issuer.Name
	if issuer == "" {
		issuer = certpolicy.IssuerSelf
	}
	cp := &azcertificates.CertificatePolicy{
		IssuerParameters:          &azcertificates.IssuerParameters{Name: &issuer},
		KeyProperties:             kp,
		X509CertificateProperties: x,
	}
	if p.Secret != nil && p.Secret.ContentType != "" {
		cp.SecretProperties = &azcertificates.SecretProperties{ContentType: str(p.Secret.ContentType)}
	}
	return cp
}

// fromVault converts the SDK's policy back into hallmark's, for the fake
// vault in tests and for reading a vault's stored policy.
func fromVault(cp *azcertificates.CertificatePolicy) *certpolicy.Policy {
	p := &certpolicy.Policy{}
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	if cp.IssuerParameters != nil {
		p.Issuer.Name = deref(cp.IssuerParameters.Name)
	}
	if k := cp.KeyProperties; k != nil {
		if k.KeyType != nil {
			p.Key.KeyType = string(*k.KeyType)
		}
		if k.KeySize != nil {
			p.Key.KeySize = int(*k.KeySize)
		}
		if k.Curve != nil {
			p.Key.Curve = string(*k.Curve)
		}
		if k.Exportable != nil {
			p.Key.Exportable = *k.Exportable
		}
		p.Key.ReuseKey = k.ReuseKey
	}
	if x := cp.X509CertificateProperties; x != nil {
		p.X509.Subject = deref(x.Subject)
		if x.EnhancedKeyUsage != nil {
			p.X509.EKUs = []string{}
			for _, e := range x.EnhancedKeyUsage {
				p.X509.EKUs = append(p.X509.EKUs, deref(e))
			}
		}
		for _, u := range x.KeyUsage {
			if u != nil {
				p.X509.KeyUsage = append(p.X509.KeyUsage, string(*u))
			}
		}
		if x.ValidityInMonths != nil {
			p.X509.ValidityInMonths = int(*x.ValidityInMonths)
		}
		if s := x.SubjectAlternativeNames; s != nil {
			p.X509.SubjectAlternativeNames = &certpolicy.SubjectAlternativeNames{}
			for _, d := range s.DNSNames {
				p.X509.SubjectAlternativeNames.DNSNames = append(p.X509.SubjectAlternativeNames.DNSNames, deref(d))
			}
			for _, e := range s.Emails {
				p.X509.SubjectAlternativeNames.Emails = append(p.X509.SubjectAlternativeNames.Emails, deref(e))
			}
		}
	}
	if cp.SecretProperties != nil && cp.SecretProperties.ContentType != nil {
		p.Secret = &certpolicy.SecretProperties{ContentType: *cp.SecretProperties.ContentType}
	}
	p.ApplyDefaults()
	return p
}
