package certpolicy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/dn"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// MaxSize caps a certificate policy document. Real policies are under
// 2 KiB; the cap keeps a wrong file (an image, a log) or a hostile one from
// being parsed in full, and bounds what a key store reads back from disk.
// Callers reading a policy from a stream should read at most MaxSize+1
// bytes so Parse can report the overflow.
const MaxSize = 1 << 20

// Key types a policy may ask for, spelled as Azure Key Vault spells them.
const (
	KeyTypeRSA    = "RSA"
	KeyTypeRSAHSM = "RSA-HSM"
	KeyTypeEC     = "EC"
	KeyTypeECHSM  = "EC-HSM"
)

// IssuerSelf is the issuer name that makes a self-signed certificate.
const IssuerSelf = "Self"

// OIDCodeSigning is id-kp-codeSigning, the one extended key usage a Notary
// Project signing certificate is expected to carry.
const OIDCodeSigning = "1.3.6.1.5.5.7.3.3"

// Policy is a certificate policy in the JSON form Azure Key Vault uses (as
// written for `az keyvault certificate create -p @policy.json`), so one file
// drives the local store, an HSM and a vault alike. Parse also takes
// the form wrapped in {"policy": {...}} that the vault returns.
//
// Every Azure Key Vault field is accepted. hallmark acts on issuerParameters.name,
// keyProperties (keyType, keySize, curve), and x509CertificateProperties
// (subject, subjectAlternativeNames, ekus, keyUsage, validityInMonths). It
// keeps but ignores the rest: id, attributes, secretProperties,
// lifetimeActions (hallmark does not renew on its own; use rotate),
// keyProperties.reuseKey (rotation always makes a new key),
// issuerParameters.certificateType and certificateTransparency.
// keyProperties.exportable is recorded in Info.Exportable but changes
// nothing: hallmark never exports private keys.
//
// # Certificate authorities
//
// A vault policy cannot ask for a CA certificate, so hallmark adds one field,
// x509CertificateProperties.basicConstraints:
//
//	"basicConstraints": {"ca": true, "pathLenConstraint": 0}
//
// A key made from such a policy gets a certificate that meets the Notary
// Project's CA rules (basicConstraints critical with cA=true, keyUsage
// critical with keyCertSign) and can be named in issuerParameters.name of
// other policies in the same provider: their certificates are then issued
// and signed by it, and their chains end in its chain. A CA key cannot sign
// artifacts, because the Notary Project forbids keyCertSign in a signing
// certificate. Without basicConstraints (or with "ca": false) the
// certificate is a signing certificate with basicConstraints cA=false.
// Azure Key Vault knows nothing of the field: CA keys are a feature of the
// local and HSM providers.
type Policy struct {
	// ID is the vault's identifier of the policy; ignored.
	ID string `json:"id,omitempty"`
	// Issuer says who signs the certificate.
	Issuer IssuerParameters `json:"issuerParameters"`
	// Key describes the key pair.
	Key KeyProperties `json:"keyProperties"`
	// Secret is kept for round-trips to the vault; ignored. Nil when absent.
	Secret *SecretProperties `json:"secretProperties,omitempty"`
	// X509 describes the certificate.
	X509 X509Properties `json:"x509CertificateProperties"`
	// LifetimeActions is kept for round-trips to the vault; ignored.
	LifetimeActions []LifetimeAction `json:"lifetimeActions,omitempty"`
	// Attributes is kept for round-trips to the vault; ignored. Nil when absent.
	Attributes *PolicyAttributes `json:"attributes,omitempty"`
}

// IssuerParameters names the certificate's issuer.
type IssuerParameters struct {
	// Name is "Self" for a self-signed certificate (the default when empty),
	// or the name of a CA key in the same provider, whose newest version
	// issues the certificate. "Self" matches in any case, so a key named
	// "self" cannot be an issuer. The vault's "Unknown" (sign a CSR by hand)
	// is not supported.
	Name string `json:"name"`
	// CertificateType is the vault's type for a public CA; ignored.
	CertificateType *string `json:"certificateType,omitempty"`
	// CertificateTransparency is the vault's CT flag; ignored.
	CertificateTransparency *bool `json:"certificateTransparency,omitempty"`
}

// KeyProperties describes the key pair.
type KeyProperties struct {
	// KeyType is RSA, RSA-HSM, EC or EC-HSM. Empty means RSA, or EC when
	// Curve is set. The -HSM types ask for a hardware-protected key; a
	// software store refuses them rather than pretend.
	KeyType string `json:"keyType"`
	// KeySize is the RSA modulus size: 2048 (the default), 3072 or 4096. For
	// EC keys it may be left 0 or must match the curve (256, 384, 521).
	KeySize int `json:"keySize,omitempty"`
	// Curve is the EC curve: P-256 (the default), P-384 or P-521. Empty for
	// RSA keys.
	Curve string `json:"curve,omitempty"`
	// Exportable is recorded only; hallmark never exports private keys.
	Exportable bool `json:"exportable"`
	// ReuseKey is kept for round-trips to the vault; ignored: hallmark makes
	// a new key on every rotation.
	ReuseKey *bool `json:"reuseKey,omitempty"`
}

// X509Properties describes the certificate.
type X509Properties struct {
	// Subject is the subject DN in RFC 4514 form, most specific first, such
	// as "CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US". Required. The
	// certificate keeps the RDN order as written. Notary Project trust
	// policies identify signers by a DN that must hold C, ST and O, so
	// Warnings reports any that are missing.
	Subject string `json:"subject"`
	// SubjectAlternativeNames go into the certificate (DNS names and e-mail
	// addresses; UPNs are not supported). The Notary Project ignores them.
	// Nil when absent.
	SubjectAlternativeNames *SubjectAlternativeNames `json:"subjectAlternativeNames,omitempty"`
	// EKUs lists extended key usage OIDs. Nil (absent or null) means
	// [codeSigning] for a signing certificate and no extension for a CA; an
	// empty list means no extension. serverAuth, clientAuth, emailProtection,
	// timeStamping and anyExtendedKeyUsage are forbidden by the Notary Project.
	EKUs []string `json:"ekus"`
	// KeyUsage lists key usages by their vault names. Nil means
	// [digitalSignature] for a signing certificate and [keyCertSign, cRLSign]
	// for a CA. A signing certificate must have digitalSignature and may add
	// only nonRepudiation; a CA must have keyCertSign and may add cRLSign,
	// digitalSignature and nonRepudiation.
	KeyUsage []string `json:"keyUsage"`
	// ValidityInMonths is the certificate lifetime, 1 to 1200; 0 means 12.
	// A certificate issued by a CA never outlives the CA's certificate.
	ValidityInMonths int `json:"validityInMonths"`
	// BasicConstraints is hallmark's extension for CA keys (see Policy).
	// Nil means a signing certificate.
	BasicConstraints *BasicConstraints `json:"basicConstraints,omitempty"`
}

// SubjectAlternativeNames are the vault's SAN lists.
type SubjectAlternativeNames struct {
	DNSNames []string `json:"dnsNames,omitempty"` // DNS names, ASCII
	Emails   []string `json:"emails,omitempty"`   // e-mail addresses, ASCII
	UPNs     []string `json:"upns,omitempty"`     // not supported: Validate rejects any
}

// BasicConstraints makes the key a certificate authority.
type BasicConstraints struct {
	// CA makes the certificate a CA certificate.
	CA bool `json:"ca"`
	// PathLenConstraint limits how many CA levels may follow this one; nil
	// means no limit. Only for CAs.
	PathLenConstraint *int `json:"pathLenConstraint,omitempty"`
}

// SecretProperties is the vault's secret format; ignored.
type SecretProperties struct {
	ContentType string `json:"contentType,omitempty"`
}

// LifetimeAction is a vault renewal rule; ignored.
type LifetimeAction struct {
	Action  *LifetimeActionType `json:"action,omitempty"`
	Trigger *LifetimeTrigger    `json:"trigger,omitempty"`
}

// LifetimeActionType is "AutoRenew" or "EmailContacts" in the vault.
type LifetimeActionType struct {
	ActionType string `json:"actionType,omitempty"`
}

// LifetimeTrigger says when a lifetime action runs.
type LifetimeTrigger struct {
	LifetimePercentage *int `json:"lifetimePercentage,omitempty"`
	DaysBeforeExpiry   *int `json:"daysBeforeExpiry,omitempty"`
}

// PolicyAttributes are the vault's policy attributes; ignored. The times are
// kept as written, since the CLI prints them as strings and REST as numbers.
type PolicyAttributes struct {
	Enabled         *bool           `json:"enabled,omitempty"`
	NotBefore       json.RawMessage `json:"notBefore,omitempty"`
	Expires         json.RawMessage `json:"expires,omitempty"`
	Created         json.RawMessage `json:"created,omitempty"`
	Updated         json.RawMessage `json:"updated,omitempty"`
	RecoveryLevel   string          `json:"recoveryLevel,omitempty"`
	RecoverableDays *int            `json:"recoverableDays,omitempty"`
}

// Copy returns a validated deep copy of p with defaults applied, or
// Default() when p is nil. Providers keep the copy, so later changes
// by the caller cannot reach what they store or act on. Errors wrap
// ErrInvalidPolicy.
func Copy(p *Policy) (*Policy, error) {
	if p == nil {
		return Default(), nil
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPolicy, err)
	}
	return Parse(data)
}

// Default returns the policy hallmark uses when none is given: a
// self-signed RSA 2048 code-signing certificate for "CN=hallmark", valid
// for 12 months. Set X509.Subject to a DN with C, ST and O before making
// keys others will trust.
func Default() *Policy {
	p := &Policy{X509: X509Properties{Subject: "CN=hallmark"}}
	p.ApplyDefaults()
	return p
}

// IsCA reports whether the policy makes a CA key.
func (p *Policy) IsCA() bool {
	return p.X509.BasicConstraints != nil && p.X509.BasicConstraints.CA
}

// SelfSigned reports whether the certificate is self-signed rather than
// issued by a CA key.
func (p *Policy) SelfSigned() bool {
	return p.Issuer.Name == "" || strings.EqualFold(p.Issuer.Name, IssuerSelf)
}

// KeySpec returns the Notary Project key spec the policy asks for, such as
// "RSA-2048" or "EC-384", or "" when the key properties are invalid.
func (p *Policy) KeySpec() string {
	switch p.Key.KeyType {
	case KeyTypeRSA, KeyTypeRSAHSM:
		if slices.Contains(rsaSizes, p.Key.KeySize) {
			return fmt.Sprintf("RSA-%d", p.Key.KeySize)
		}
	case KeyTypeEC, KeyTypeECHSM:
		if size, ok := curveSizes[p.Key.Curve]; ok {
			return fmt.Sprintf("EC-%d", size)
		}
	}
	return ""
}

// ApplyDefaults fills what the policy leaves out. It is the one place
// defaults live; Parse calls it, and code that builds a Policy by hand
// should too before Validate.
func (p *Policy) ApplyDefaults() {
	if p.Issuer.Name == "" {
		p.Issuer.Name = IssuerSelf
	}
	k := &p.Key
	if k.KeyType == "" {
		k.KeyType = KeyTypeRSA
		if k.Curve != "" {
			k.KeyType = KeyTypeEC
		}
	}
	switch k.KeyType {
	case KeyTypeRSA, KeyTypeRSAHSM:
		if k.KeySize == 0 {
			k.KeySize = 2048
		}
	case KeyTypeEC, KeyTypeECHSM:
		if k.Curve == "" {
			k.Curve = "P-256"
			for curve, size := range curveSizes {
				if size == k.KeySize {
					k.Curve = curve
				}
			}
		}
	}
	x := &p.X509
	if x.KeyUsage == nil {
		if p.IsCA() {
			x.KeyUsage = []string{"keyCertSign", "cRLSign"}
		} else {
			x.KeyUsage = []string{"digitalSignature"}
		}
	}
	if x.EKUs == nil && !p.IsCA() {
		x.EKUs = []string{OIDCodeSigning}
	}
	if x.ValidityInMonths == 0 {
		x.ValidityInMonths = 12
	}
}

// Validate checks the policy as it is (apply defaults first) against the
// Notary Project's rules and returns every problem at once, as a
// *PolicyError that wraps ErrInvalidPolicy.
func (p *Policy) Validate() error {
	if probs := p.problems(); len(probs) > 0 {
		return &PolicyError{Problems: probs}
	}
	return nil
}

// Warnings lists what is allowed but probably not what the user wants: a
// subject without C, ST or O (Notary Project trust policies cannot name
// such a signer in trustedIdentities) and exportable keys.
func (p *Policy) Warnings() []Problem {
	var warns []Problem
	if dn, err := parseDN(p.X509.Subject); err == nil {
		var missing []string
		for _, a := range []struct {
			oid  []int
			name string
		}{{oidCountry, "C"}, {oidState, "ST"}, {oidOrganization, "O"}} {
			if !dn.has(a.oid) {
				missing = append(missing, a.name)
			}
		}
		if len(missing) > 0 {
			warns = append(warns, Problem{
				Path: "x509CertificateProperties.subject",
				Message: fmt.Sprintf("has no %s; Notary Project trust policies identify signers by a DN with C, ST and O, "+
					"so add them (for example \"CN=signer,O=Example,ST=WA,C=US\") before others must trust this key",
					strings.Join(missing, ", ")),
			})
		}
	}
	if p.Key.Exportable {
		warns = append(warns, Problem{
			Path:    "keyProperties.exportable",
			Message: "is true, but hallmark never exports private keys; the flag is only recorded",
		})
	}
	return warns
}

var (
	rsaSizes   = []int{2048, 3072, 4096}
	curveSizes = map[string]int{"P-256": 256, "P-384": 384, "P-521": 521}
	// ekuNames names well-known extended key usages in messages.
	ekuNames = map[string]string{
		"1.3.6.1.5.5.7.3.1": "serverAuth",
		"1.3.6.1.5.5.7.3.2": "clientAuth",
		OIDCodeSigning:      "codeSigning",
		"1.3.6.1.5.5.7.3.4": "emailProtection",
		"1.3.6.1.5.5.7.3.8": "timeStamping",
		"1.3.6.1.5.5.7.3.9": "OCSPSigning",
		"2.5.29.37.0":       "anyExtendedKeyUsage",
	}
	// forbiddenEKUs are the usages the Notary Project forbids in a signing
	// certificate. hallmark forbids them in CAs too: a CA that carries them
	// would not be a code-signing CA, and Go's chain verification would
	// refuse codeSigning leaves below it.
	forbiddenEKUs = []string{"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.8", "2.5.29.37.0"}
	// keyUsageNames are the vault's key usage names, in X.509 bit order.
	keyUsageNames = []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
		"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	leafKeyUsages = []string{"digitalSignature", "nonRepudiation"}
	caKeyUsages   = []string{"keyCertSign", "cRLSign", "digitalSignature", "nonRepudiation"}
)

// problems returns every rule the policy breaks, with JSON paths relative to
// the policy object.
func (p *Policy) problems() []Problem {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}

	switch name := p.Issuer.Name; {
	case name == "":
		add("issuerParameters.name", "is required: %q or the name of a CA key", IssuerSelf)
	case p.SelfSigned():
	case strings.EqualFold(name, "Unknown"):
		add("issuerParameters.name", "Unknown (a certificate signing request completed by hand) is not supported; use %q or the name of a CA key", IssuerSelf)
	default:
		if err := CheckName(name); err != nil {
			add("issuerParameters.name", "%q is neither %q nor a key name: it %s", strict.Clip(name), IssuerSelf, err)
		}
	}

	probs = append(probs, p.Key.problems()...)

	x := p.X509
	const xp = "x509CertificateProperties"
	if strings.TrimSpace(x.Subject) == "" {
		add(xp+".subject", "is required, for example \"CN=signer,O=Example,ST=WA,C=US\"")
	} else if _, err := parseDN(x.Subject); errors.Is(err, dn.ErrSyntax) {
		add(xp+".subject", "%s; write it as RFC 4514, most specific first, for example \"CN=signer,O=Example,ST=WA,C=US\"", err)
	} else if err != nil {
		add(xp+".subject", "%s", err)
	}

	allowed, kind := leafKeyUsages, "a Notary Project signing certificate"
	if p.IsCA() {
		allowed, kind = caKeyUsages, "a hallmark CA certificate"
	}

	for i, oid := range x.EKUs {
		path := fmt.Sprintf("%s.ekus[%d]", xp, i)
		if _, err := parseOID(oid); err != nil {
			named := ekuOIDByName(oid)
			switch {
			case slices.Contains(forbiddenEKUs, named):
				add(path, "%s is not allowed in %s; use %s (codeSigning)", ekuNames[named], kind, OIDCodeSigning)
			case named != "":
				add(path, "%q is a name, not an OID; use %s", strict.Clip(oid), named)
			default:
				add(path, "%q is not a dotted OID such as %s (codeSigning)", strict.Clip(oid), OIDCodeSigning)
			}
			continue
		}
		if slices.Contains(forbiddenEKUs, oid) {
			add(path, "%s (%s) is not allowed in %s; use %s (codeSigning)", oid, ekuNames[oid], kind, OIDCodeSigning)
		}
		if slices.Index(x.EKUs, oid) < i {
			add(path, "%s is listed twice", oid)
		}
	}

	for i, ku := range x.KeyUsage {
		path := fmt.Sprintf("%s.keyUsage[%d]", xp, i)
		switch {
		case !slices.Contains(keyUsageNames, ku):
			if best := strict.Suggest(ku, keyUsageNames); best != "" {
				add(path, "%q is not a key usage; did you mean %s?", strict.Clip(ku), best)
			} else {
				add(path, "%q is not a key usage; use one of %s", strict.Clip(ku), strings.Join(keyUsageNames, ", "))
			}
		case slices.Index(x.KeyUsage, ku) < i:
			add(path, "%s is listed twice", ku)
		case ku == "keyCertSign" && !p.IsCA():
			add(path, "keyCertSign is not allowed in %s; for a CA key add \"basicConstraints\": {\"ca\": true}", kind)
		case !slices.Contains(allowed, ku):
			add(path, "%s is not allowed in %s; allowed: %s", ku, kind, strings.Join(allowed, ", "))
		}
	}
	switch {
	case p.IsCA() && !slices.Contains(x.KeyUsage, "keyCertSign"):
		add(xp+".keyUsage", "must include keyCertSign for a CA certificate")
	case !p.IsCA() && !slices.Contains(x.KeyUsage, "digitalSignature"):
		add(xp+".keyUsage", "must include digitalSignature for a Notary Project signing certificate")
	}

	if x.ValidityInMonths < 1 || x.ValidityInMonths > 1200 {
		add(xp+".validityInMonths", "%d is out of range; use 1 to 1200", x.ValidityInMonths)
	}

	if bc := x.BasicConstraints; bc != nil && bc.PathLenConstraint != nil {
		switch {
		case !bc.CA:
			add(xp+".basicConstraints.pathLenConstraint", "is only allowed with \"ca\": true")
		case *bc.PathLenConstraint < 0:
			add(xp+".basicConstraints.pathLenConstraint", "%d is negative; use 0 or more, or leave it out for no limit", *bc.PathLenConstraint)
		}
	}

	if san := x.SubjectAlternativeNames; san != nil {
		for i, v := range san.DNSNames {
			if !isIA5(v) || strings.TrimSpace(v) == "" || strings.Contains(v, " ") {
				add(fmt.Sprintf("%s.subjectAlternativeNames.dnsNames[%d]", xp, i), "%q is not a DNS name", strict.Clip(v))
			}
		}
		for i, v := range san.Emails {
			if !isIA5(v) || !strings.Contains(v, "@") || strings.Contains(v, " ") {
				add(fmt.Sprintf("%s.subjectAlternativeNames.emails[%d]", xp, i), "%q is not an ASCII e-mail address", strict.Clip(v))
			}
		}
		if len(san.UPNs) > 0 {
			add(xp+".subjectAlternativeNames.upns", "user principal names are not supported; remove them")
		}
	}
	return probs
}

// problems checks the key properties alone, so key generation can use them
// without a subject.
func (k KeyProperties) problems() []Problem {
	var probs []Problem
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Path: "keyProperties." + path, Message: fmt.Sprintf(format, args...)})
	}
	switch k.KeyType {
	case KeyTypeRSA, KeyTypeRSAHSM:
		switch s := k.KeySize; {
		case slices.Contains(rsaSizes, s):
		case s < 2048:
			add("keySize", "%d is below 2048, the smallest RSA key the Notary Project allows", s)
		case s > 4096:
			add("keySize", "%d is above 4096, the largest RSA key the Notary Project allows", s)
		default:
			add("keySize", "%d is not allowed; use 2048, 3072 or 4096", s)
		}
		if k.Curve != "" {
			add("curve", "%q is only for EC keys; remove it or set keyType to EC", strict.Clip(k.Curve))
		}
	case KeyTypeEC, KeyTypeECHSM:
		size, ok := curveSizes[k.Curve]
		switch {
		case ok:
			if k.KeySize != 0 && k.KeySize != size {
				add("keySize", "%d does not match curve %s (%d); remove keySize", k.KeySize, k.Curve, size)
			}
		case k.Curve == "P-256K":
			add("curve", "P-256K (secp256k1) is not allowed by the Notary Project; use P-256, P-384 or P-521")
		default:
			add("curve", "%q is not allowed; use P-256, P-384 or P-521", strict.Clip(k.Curve))
		}
	case "oct", "oct-HSM":
		add("keyType", "%s is a symmetric key and cannot sign; use RSA or EC", k.KeyType)
	default:
		add("keyType", "%q is not a key type; use RSA, RSA-HSM, EC or EC-HSM", strict.Clip(k.KeyType))
	}
	return probs
}

// ekuOIDByName returns the OID of a well-known EKU written by name.
func ekuOIDByName(name string) string {
	for oid, n := range ekuNames {
		if strings.EqualFold(n, name) {
			return oid
		}
	}
	return ""
}

func isIA5(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Problem is one thing wrong (or worth a warning) in a policy, at a JSON
// field path such as "x509CertificateProperties.ekus[1]".
type Problem = strict.Problem

// PolicyError lists every problem found in a policy. It wraps
// ErrInvalidPolicy.
type PolicyError struct {
	Problems []Problem
}

// Error joins the problems on one line; show Problems one per line instead
// where there is room.
func (e *PolicyError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return ErrInvalidPolicy.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidPolicy) true.
func (e *PolicyError) Unwrap() error { return ErrInvalidPolicy }
