package certpolicy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// opaqueSigner hides the concrete key type, as an HSM or vault signer
// does, so the tests prove any crypto.Signer works.
type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

func mustPolicy(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

// newTestKey makes a key and its certificate chain from a policy.
func newTestKey(t *testing.T, name, doc string, issuer *Issuer, now time.Time) *Issuer {
	t.Helper()
	p := mustPolicy(t, doc)
	signer, err := GenerateKey(p)
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	chain, err := IssueCertificate(p, opaqueSigner{signer}, issuer, now)
	if err != nil {
		t.Fatalf("IssueCertificate(%s): %v", name, err)
	}
	return &Issuer{Name: name + "/1", Chain: chain, Signer: opaqueSigner{signer}}
}

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		keyProps string
		want     string
		wantErr  error
	}{
		{`{"keyType":"RSA"}`, "RSA-2048", nil},
		{`{"keyType":"EC"}`, "EC-256", nil},
		{`{"keyType":"EC","curve":"P-384"}`, "EC-384", nil},
		{`{"keyType":"EC","curve":"P-521"}`, "EC-521", nil},
		{`{"keyType":"RSA-HSM"}`, "", ErrUnsupported},
		{`{"keyType":"EC-HSM"}`, "", ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.keyProps, func(t *testing.T) {
			signer, err := GenerateKey(mustPolicy(t, keyDoc(tt.keyProps)))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("GenerateKey error = %v; want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, err := KeySpec(signer.Public()); got != tt.want || err != nil {
				t.Errorf("KeySpec = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("invalid key properties", func(t *testing.T) {
		_, err := GenerateKey(&Policy{Key: KeyProperties{KeyType: "RSA", KeySize: 1024}})
		checkPolicyError(t, err, "keyProperties.keySize: 1024 is below 2048")
	})
}

func TestKeySpecRejects(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, pub := range map[string]crypto.PublicKey{"RSA-1024": &rsa1024.PublicKey, "P-224": &p224.PublicKey, "Ed25519": edPub} {
		t.Run(name, func(t *testing.T) {
			if spec, err := KeySpec(pub); !errors.Is(err, ErrUnsupported) {
				t.Errorf("KeySpec = %q, %v; want ErrUnsupported", spec, err)
			}
		})
	}
}

func TestIssueSelfSigned(t *testing.T) {
	tests := []struct {
		name    string
		keyType string
		sigAlg  x509.SignatureAlgorithm
	}{
		{"RSA-2048", `{"keyType":"RSA","keySize":2048}`, x509.SHA256WithRSA},
		{"EC-256", `{"keyType":"EC","curve":"P-256"}`, x509.ECDSAWithSHA256},
		{"EC-384", `{"keyType":"EC","curve":"P-384"}`, x509.ECDSAWithSHA384},
		{"EC-521", `{"keyType":"EC","curve":"P-521"}`, x509.ECDSAWithSHA512},
	}
	const subject = "CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"keyProperties":` + tt.keyType + `,"x509CertificateProperties":{"subject":"` + subject + `",` +
				`"subjectAlternativeNames":{"dnsNames":["brooklyn.io"],"emails":["sign@brooklyn.io"]}}}`
			key := newTestKey(t, "leaf", doc, nil, testNow)
			if len(key.Chain) != 1 {
				t.Fatalf("chain has %d certificates; want 1", len(key.Chain))
			}
			cert := key.Chain[0]
			checkNotaryLeaf(t, cert)
			if cert.SignatureAlgorithm != tt.sigAlg {
				t.Errorf("signature algorithm = %v; want %v", cert.SignatureAlgorithm, tt.sigAlg)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("self-signature does not verify: %v", err)
			}
			if got := rdnString(t, cert.RawSubject); got != subject {
				t.Errorf("subject encodes as %q; want the order written, %q", got, subject)
			}
			if got := rdnString(t, cert.RawIssuer); got != subject {
				t.Errorf("issuer = %q; want the subject", got)
			}
			if !cert.NotBefore.Equal(testNow.Add(-certBackdate)) || !cert.NotAfter.Equal(testNow.AddDate(0, 12, 0)) {
				t.Errorf("validity %v to %v; want %v to %v", cert.NotBefore, cert.NotAfter, testNow.Add(-certBackdate), testNow.AddDate(0, 12, 0))
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 || cert.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %v is not a positive random 128-bit number", cert.SerialNumber)
			}
			if len(cert.SubjectKeyId) != 20 {
				t.Errorf("subject key ID has %d bytes; want 20", len(cert.SubjectKeyId))
			}
			if len(cert.DNSNames) != 1 || len(cert.EmailAddresses) != 1 {
				t.Errorf("SANs = %v, %v; want the policy's", cert.DNSNames, cert.EmailAddresses)
			}
		})
	}
}

func TestIssueSerialsDiffer(t *testing.T) {
	p := mustPolicy(t, keyDoc(`{"keyType":"EC"}`))
	signer, err := GenerateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	a, err := IssueCertificate(p, signer, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := IssueCertificate(p, signer, nil, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if a[0].SerialNumber.Cmp(b[0].SerialNumber) == 0 {
		t.Error("two certificates got the same serial number")
	}
}

func TestIssueWithoutEKU(t *testing.T) {
	key := newTestKey(t, "noeku", x509Doc(`"ekus":[]`), nil, testNow)
	cert := key.Chain[0]
	if len(cert.ExtKeyUsage) != 0 || len(cert.UnknownExtKeyUsage) != 0 || hasExtension(cert, oidExtKeyUsage) {
		t.Errorf("certificate has EKUs %v %v; want no extension", cert.ExtKeyUsage, cert.UnknownExtKeyUsage)
	}
}

func TestIssueCAChain(t *testing.T) {
	root := newTestKey(t, "root", `{"keyProperties":{"keyType":"EC","curve":"P-384"},"x509CertificateProperties":`+
		`{"subject":"CN=Root,O=Example,ST=WA,C=US","validityInMonths":120,"basicConstraints":{"ca":true}}}`, nil, testNow)
	inter := newTestKey(t, "inter", `{"issuerParameters":{"name":"root"},"keyProperties":{"keyType":"EC"},"x509CertificateProperties":`+
		`{"subject":"CN=Intermediate,O=Example,ST=WA,C=US","validityInMonths":6,"basicConstraints":{"ca":true,"pathLenConstraint":0}}}`, root, testNow)
	leaf := newTestKey(t, "leaf", `{"issuerParameters":{"name":"inter"},"keyProperties":{"keyType":"RSA"},"x509CertificateProperties":`+
		`{"subject":"CN=Leaf,O=Example,ST=WA,C=US","validityInMonths":12}}`, inter, testNow)

	if len(leaf.Chain) != 3 || leaf.Chain[1] != inter.Chain[0] || leaf.Chain[2] != root.Chain[0] {
		t.Fatalf("leaf chain has %d certificates; want leaf, intermediate, root", len(leaf.Chain))
	}
	for _, ca := range []*x509.Certificate{root.Chain[0], inter.Chain[0]} {
		checkNotaryCA(t, ca)
	}
	lc := leaf.Chain[0]
	checkNotaryLeaf(t, lc)
	if !lc.NotAfter.Equal(inter.Chain[0].NotAfter) {
		t.Errorf("leaf expires %v, after its issuer (%v)", lc.NotAfter, inter.Chain[0].NotAfter)
	}
	if string(lc.AuthorityKeyId) != string(inter.Chain[0].SubjectKeyId) {
		t.Error("leaf's authority key ID is not the intermediate's subject key ID")
	}
	if lc.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("leaf is signed with %v; want the issuer's ECDSAWithSHA256", lc.SignatureAlgorithm)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Chain[0])
	inters.AddCert(inter.Chain[0])
	chains, err := lc.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters, CurrentTime: testNow,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	})
	if err != nil {
		t.Fatalf("leaf does not verify to the root: %v", err)
	}
	if len(chains[0]) != 3 {
		t.Errorf("verified chain has %d certificates; want 3", len(chains[0]))
	}
}

func TestCheckIssuer(t *testing.T) {
	caDoc := func(extra string) string {
		return `{"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=CA","validityInMonths":12,` +
			`"basicConstraints":{"ca":true` + extra + `}}}`
	}
	ca := newTestKey(t, "ca", caDoc(""), nil, testNow)
	ca0 := newTestKey(t, "ca0", caDoc(`,"pathLenConstraint":0`), nil, testNow)
	ca2 := newTestKey(t, "ca2", caDoc(`,"pathLenConstraint":2`), nil, testNow)
	leaf := newTestKey(t, "leaf", keyDoc(`{"keyType":"EC"}`), nil, testNow)
	other := newTestKey(t, "other", keyDoc(`{"keyType":"EC"}`), nil, testNow)
	mismatched := &Issuer{Name: ca.Name, Chain: ca.Chain, Signer: other.Signer}

	issued := mustPolicy(t, `{"issuerParameters":{"name":"ca"},"x509CertificateProperties":{"subject":"CN=x"}}`)
	subCA := mustPolicy(t, `{"issuerParameters":{"name":"ca"},"x509CertificateProperties":{"subject":"CN=x","basicConstraints":{"ca":true}}}`)
	subCA5 := mustPolicy(t, `{"issuerParameters":{"name":"ca"},"x509CertificateProperties":{"subject":"CN=x","basicConstraints":{"ca":true,"pathLenConstraint":5}}}`)
	self := mustPolicy(t, keyDoc(`{}`))

	tests := []struct {
		name    string
		p       *Policy
		issuer  *Issuer
		now     time.Time
		wantErr error  // nil: no error
		wantMsg string // substring of the error
	}{
		{"CA issues a leaf", issued, ca, testNow, nil, ""},
		{"pathLen 0 CA issues a leaf", issued, ca0, testNow, nil, ""},
		{"CA issues a sub-CA", subCA, ca, testNow, nil, ""},
		{"pathLen 2 CA issues a sub-CA", subCA, ca2, testNow, nil, ""},
		{"self-signed without issuer", self, nil, testNow, nil, ""},
		{"leaf as issuer", issued, leaf, testNow, ErrNotCA, "is not a CA certificate"},
		{"expired CA", issued, ca, testNow.AddDate(2, 0, 0), ErrNotCA, "expired at"},
		{"CA not yet valid", issued, ca, testNow.Add(-time.Hour), ErrNotCA, "is not valid until"},
		{"signer does not match", issued, mismatched, testNow, ErrNotCA, "does not match its certificate"},
		{"pathLen 0 CA issues a sub-CA", subCA, ca0, testNow, ErrNotCA, "allows no CA below it"},
		{"sub-CA pathLen too large", subCA5, ca2, testNow, ErrInvalidPolicy, "must be below 2"},
		{"issuer for a self-signed policy", self, ca, testNow, nil, "asks for a self-signed certificate"},
		{"no issuer for an issued policy", issued, nil, testNow, nil, `names issuer "ca"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckIssuer(tt.p, tt.issuer, tt.now)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("CheckIssuer: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("CheckIssuer error = %v; want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			// IssueCertificate refuses the same issuer.
			signer, gerr := GenerateKey(tt.p)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if _, ierr := IssueCertificate(tt.p, signer, tt.issuer, tt.now); ierr == nil {
				t.Error("IssueCertificate accepted what CheckIssuer refused")
			}
		})
	}
}

func TestIssueKeyMismatch(t *testing.T) {
	p := mustPolicy(t, keyDoc(`{"keyType":"EC","curve":"P-384"}`))
	signer, err := GenerateKey(mustPolicy(t, keyDoc(`{"keyType":"EC"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := IssueCertificate(p, signer, nil, testNow); err == nil || !strings.Contains(err.Error(), "the key is EC-256 but the policy asks for EC-384") {
		t.Fatalf("IssueCertificate error = %v; want a key type mismatch", err)
	}
	if _, err := IssueCertificate(&Policy{}, signer, nil, testNow); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("IssueCertificate with an invalid policy: %v; want ErrInvalidPolicy", err)
	}
}

func TestThumbprint(t *testing.T) {
	cert := newTestKey(t, "k", keyDoc(`{"keyType":"EC"}`), nil, testNow).Chain[0]
	sum := sha256.Sum256(cert.Raw)
	if got, want := Thumbprint(cert), hex.EncodeToString(sum[:]); got != want || strings.ToLower(got) != got {
		t.Errorf("Thumbprint = %q; want %q", got, want)
	}
}

var (
	oidKeyUsage         = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtKeyUsage      = asn1.ObjectIdentifier{2, 5, 29, 37}
)

// checkNotaryLeaf applies the Notary Project's signing-certificate rules.
func checkNotaryLeaf(t *testing.T, c *x509.Certificate) {
	t.Helper()
	if !isCritical(c, oidKeyUsage) || c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		t.Error("leaf lacks a critical keyUsage with digitalSignature")
	}
	forbidden := x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageKeyAgreement |
		x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageEncipherOnly | x509.KeyUsageDecipherOnly
	if c.KeyUsage&forbidden != 0 {
		t.Errorf("leaf has forbidden key usages %b", c.KeyUsage&forbidden)
	}
	if c.IsCA || (hasExtension(c, oidBasicConstraints) && !isCritical(c, oidBasicConstraints)) {
		t.Error("leaf basicConstraints must be absent or critical with cA=false")
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
		t.Errorf("leaf EKUs = %v; want codeSigning", c.ExtKeyUsage)
	}
}

// checkNotaryCA applies the Notary Project's CA-certificate rules.
func checkNotaryCA(t *testing.T, c *x509.Certificate) {
	t.Helper()
	if !isCritical(c, oidBasicConstraints) || !c.IsCA {
		t.Error("CA lacks critical basicConstraints with cA=true")
	}
	if !isCritical(c, oidKeyUsage) || c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("CA lacks a critical keyUsage with keyCertSign")
	}
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

func isCritical(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return e.Critical
		}
	}
	return false
}

// rdnString prints an encoded name in RFC 4514 order without the
// reordering pkix.Name applies.
func rdnString(t *testing.T, der []byte) string {
	t.Helper()
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		t.Fatal(err)
	}
	return seq.String()
}
