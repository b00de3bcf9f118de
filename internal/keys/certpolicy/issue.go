package certpolicy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// certBackdate moves NotBefore into the past. notation checks at signing time
// that every certificate in the chain is already valid, using the clock of
// the machine that signs, while the certificate may come from another
// machine (a vault, a CA host) whose clock runs a little ahead. Five minutes
// covers the skew that NTP-synchronised hosts show in practice.
const certBackdate = 5 * time.Minute

// KeySpec names a public key the way the Notary Project does: "RSA-2048",
// "RSA-3072", "RSA-4096", "EC-256", "EC-384" or "EC-521". Other keys fail
// with ErrUnsupported, since no Notary Project signature can use them.
func KeySpec(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); slices.Contains(rsaSizes, bits) {
			return fmt.Sprintf("RSA-%d", bits), nil
		}
		return "", fmt.Errorf("%w: RSA key of %d bits; the Notary Project allows 2048, 3072 or 4096", ErrUnsupported, k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "EC-256", nil
		case elliptic.P384():
			return "EC-384", nil
		case elliptic.P521():
			return "EC-521", nil
		}
		return "", fmt.Errorf("%w: EC key on curve %s; the Notary Project allows P-256, P-384 or P-521", ErrUnsupported, k.Curve.Params().Name)
	}
	return "", fmt.Errorf("%w: %T key; the Notary Project allows RSA and EC keys", ErrUnsupported, pub)
}

// Thumbprint returns the SHA-256 of the certificate's DER in lowercase hex,
// the form notation uses in signature annotations and trust stores.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return hex.EncodeToString(sum[:])
}

// GenerateKey makes a software key pair as the policy's key properties ask.
// It refuses the -HSM key types with ErrUnsupported: a software key must not
// pass for a hardware-protected one.
func GenerateKey(p *Policy) (crypto.Signer, error) {
	if probs := p.Key.problems(); len(probs) > 0 {
		return nil, &PolicyError{Problems: probs}
	}
	switch p.Key.KeyType {
	case KeyTypeRSA:
		return rsa.GenerateKey(rand.Reader, p.Key.KeySize)
	case KeyTypeEC:
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[p.Key.Curve]
		return ecdsa.GenerateKey(curve, rand.Reader)
	}
	return nil, fmt.Errorf("%w: keyType %s asks for a hardware-protected key, which a software key store cannot make; "+
		"use keyType RSA or EC, or a PKCS#11 or Azure Key Vault provider", ErrUnsupported, p.Key.KeyType)
}

// Issuer is a key that signs the certificates of other keys: a CA key of
// the same provider, named by a policy's issuerParameters.name.
type Issuer struct {
	// Name names the key in messages, as "NAME/VERSION".
	Name string
	// Signer is the issuer's private key, which stays in its provider.
	Signer crypto.Signer
	// Chain is the issuer's certificate chain, its own certificate first.
	Chain []*x509.Certificate
}

// CheckIssuer reports whether issuer can issue a certificate for p at now:
// it must be nil for a self-signed policy, and otherwise a CA that is valid
// now, whose signer matches its certificate, and whose path length allows
// the new certificate. Providers call it before making a key, so a bad
// issuer fails fast. IssueCertificate calls it too.
func CheckIssuer(p *Policy, issuer *Issuer, now time.Time) error {
	if p.SelfSigned() {
		if issuer != nil {
			return fmt.Errorf("the policy asks for a self-signed certificate but an issuer key was given")
		}
		return nil
	}
	if issuer == nil {
		return fmt.Errorf("the policy names issuer %q but no issuer key was given", p.Issuer.Name)
	}
	name := issuer.Name
	if issuer.Signer == nil || len(issuer.Chain) == 0 {
		return fmt.Errorf("%w: issuer key %s has no signer or no certificate", ErrNotCA, name)
	}
	ca := issuer.Chain[0]
	switch {
	case !ca.BasicConstraintsValid || !ca.IsCA:
		return fmt.Errorf("%w: key %s cannot issue certificates: its certificate is not a CA certificate (basicConstraints cA=true); "+
			"create a CA key ('hallmark key create NAME --ca', or \"basicConstraints\": {\"ca\": true} in its certificate policy's x509CertificateProperties)", ErrNotCA, name)
	case ca.KeyUsage&x509.KeyUsageCertSign == 0:
		return fmt.Errorf("%w: key %s cannot issue certificates: its certificate lacks the keyCertSign key usage", ErrNotCA, name)
	case now.Before(ca.NotBefore):
		return fmt.Errorf("%w: the certificate of key %s is not valid until %s", ErrNotCA, name, ca.NotBefore.UTC().Format(time.RFC3339))
	case !now.Before(ca.NotAfter):
		return fmt.Errorf("%w: the certificate of key %s expired at %s; rotate it first", ErrNotCA, name, ca.NotAfter.UTC().Format(time.RFC3339))
	}
	if pub, ok := issuer.Signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(ca.PublicKey) {
		return fmt.Errorf("%w: the private key of %s does not match its certificate", ErrNotCA, name)
	}
	if p.IsCA() && (ca.MaxPathLen > 0 || ca.MaxPathLen == 0 && ca.MaxPathLenZero) {
		if ca.MaxPathLen == 0 {
			return fmt.Errorf("%w: key %s allows no CA below it (pathLenConstraint 0)", ErrNotCA, name)
		}
		if pl := p.X509.BasicConstraints.PathLenConstraint; pl != nil && *pl >= ca.MaxPathLen {
			return fmt.Errorf("%w: x509CertificateProperties.basicConstraints.pathLenConstraint %d must be below %d, the limit of issuer %s",
				ErrInvalidPolicy, *pl, ca.MaxPathLen, name)
		}
	}
	return nil
}

// IssueCertificate makes the certificate for subject's public key from the
// policy and returns the chain, leaf first: the new certificate followed by
// the issuer's chain. With issuer nil the certificate is self-signed by
// subject; otherwise issuer.Signer signs it and subject is used only for its
// public key. now is the issue time (NotBefore is set a little earlier, see
// certBackdate); a certificate never outlives its issuer's.
//
// The certificate meets the Notary Project's rules: a random 128-bit serial,
// the subject in the order the policy writes it, keyUsage critical,
// basicConstraints critical (cA=false for signing certificates), subject
// and authority key identifiers, and a SHA-2 signature whose hash size
// follows the issuer key (SHA-256 for RSA-2048 and P-256, SHA-384 for
// RSA-3072 and P-384, SHA-512 for RSA-4096 and P-521).
func IssueCertificate(p *Policy, subject crypto.Signer, issuer *Issuer, now time.Time) ([]*x509.Certificate, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if subject == nil {
		return nil, errors.New("no subject key")
	}
	pub := subject.Public()
	spec, err := KeySpec(pub)
	if err != nil {
		return nil, err
	}
	if want := p.KeySpec(); spec != want {
		return nil, fmt.Errorf("the key is %s but the policy asks for %s", spec, want)
	}
	if err := CheckIssuer(p, issuer, now); err != nil {
		return nil, err
	}

	dn, err := parseDN(p.X509.Subject)
	if err != nil {
		return nil, err // Validate parsed it already
	}
	rawSubject, err := dn.der()
	if err != nil {
		return nil, fmt.Errorf("encoding subject: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	skid, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		RawSubject:            rawSubject,
		NotBefore:             now.Add(-certBackdate),
		NotAfter:              now.AddDate(0, p.X509.ValidityInMonths, 0),
		KeyUsage:              keyUsageBits(p.X509.KeyUsage),
		BasicConstraintsValid: true,
		IsCA:                  p.IsCA(),
		MaxPathLen:            -1,
		SubjectKeyId:          skid,
	}
	for _, s := range p.X509.EKUs {
		// Every EKU goes in as an OID, so the extension lists them in the
		// order the policy does; parsers map the known ones back by value.
		oid, _ := parseOID(s) // Validate checked it
		tmpl.UnknownExtKeyUsage = append(tmpl.UnknownExtKeyUsage, oid)
	}
	if p.IsCA() {
		if pl := p.X509.BasicConstraints.PathLenConstraint; pl != nil {
			tmpl.MaxPathLen, tmpl.MaxPathLenZero = *pl, *pl == 0
		}
	}
	if san := p.X509.SubjectAlternativeNames; san != nil {
		tmpl.DNSNames, tmpl.EmailAddresses = san.DNSNames, san.Emails
	}

	parent, signer := tmpl, subject
	var chain []*x509.Certificate
	if issuer != nil {
		parent, signer, chain = issuer.Chain[0], issuer.Signer, issuer.Chain
		if tmpl.NotAfter.After(parent.NotAfter) {
			tmpl.NotAfter = parent.NotAfter
		}
	}
	if tmpl.SignatureAlgorithm, err = certSignatureAlgorithm(signer.Public()); err != nil {
		return nil, err
	}
	// CreateCertificate checks the signature it gets back, so a signer
	// that misbehaves (a remote key that signs with something else) fails
	// here rather than in a verifier.
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("issuing certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing issued certificate: %w", err)
	}
	return append([]*x509.Certificate{cert}, chain...), nil
}

// randomSerial returns a positive random 128-bit serial number. 128 bits is
// well above the CA/Browser Forum's 64-bit minimum and still fits the
// 20-octet limit of RFC 5280 with room for the sign octet.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	b[0] |= 0x01 // never zero, which RFC 5280 forbids
	return new(big.Int).SetBytes(b), nil
}

// subjectKeyID follows RFC 7093 section 2 method 1: the leftmost 160 bits of
// the SHA-256 of the subjectPublicKey bits.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// certSignatureAlgorithm picks the certificate signature algorithm for the
// issuer's key. RSA uses PKCS #1 v1.5, which every X.509 verifier accepts;
// the Notary Project's PSS rule is for artifact signatures, not certificates.
func certSignatureAlgorithm(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	spec, err := KeySpec(pub)
	if err != nil {
		return 0, err
	}
	return map[string]x509.SignatureAlgorithm{
		"RSA-2048": x509.SHA256WithRSA,
		"RSA-3072": x509.SHA384WithRSA,
		"RSA-4096": x509.SHA512WithRSA,
		"EC-256":   x509.ECDSAWithSHA256,
		"EC-384":   x509.ECDSAWithSHA384,
		"EC-521":   x509.ECDSAWithSHA512,
	}[spec], nil
}

func keyUsageBits(names []string) x509.KeyUsage {
	var ku x509.KeyUsage
	for _, n := range names {
		if i := slices.Index(keyUsageNames, n); i >= 0 {
			// keyUsageNames is in bit order, as is x509.KeyUsage.
			ku |= 1 << i
		}
	}
	return ku
}
