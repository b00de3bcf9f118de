// Package verifytest makes the test PKI of hallmark's verification tests,
// generated per run: root CAs, intermediates, code-signing leaves that meet
// the Notary Project certificate requirements, CRLs and the broken variants
// the tests need. ECDSA P-256 keeps generation fast. Gate holds a registry
// request until another arrives, for tests of what is sent at the same
// time. Tests only import it.
package verifytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

var serialCounter atomic.Int64

// NextSerial returns a serial number not used before in this run.
func NextSerial() *big.Int { return big.NewInt(1000 + serialCounter.Add(1)) }

// Subject is a distinguished name with common name cn.
func Subject(cn string) pkix.Name {
	return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Acme"}, CommonName: cn}
}

// CA is a certificate authority and its key.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// NewKey generates an ECDSA P-256 key.
func NewKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CreateCert signs tmpl with parent's signer and parses the result.
func CreateCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewRootCA makes a self-signed root CA.
func NewRootCA(t testing.TB, cn string) *CA {
	t.Helper()
	key := NewKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          NextSerial(),
		Subject:               Subject(cn),
		NotBefore:             time.Now().Add(-7 * 24 * time.Hour), // room for leaves valid in the past
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &CA{Cert: CreateCert(t, tmpl, tmpl, key.Public(), key), Key: key}
}

// Intermediate issues a CA certificate under ca.
func (ca *CA) Intermediate(t testing.TB, cn string) *CA {
	t.Helper()
	key := NewKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          NextSerial(),
		Subject:               Subject(cn),
		NotBefore:             time.Now().Add(-7 * 24 * time.Hour), // room for leaves valid in the past
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &CA{Cert: CreateCert(t, tmpl, ca.Cert, key.Public(), ca.Key), Key: key}
}

// Leaf issues a code-signing certificate valid from notBefore to notAfter.
// Each edit may change the template, e.g. to add CRL distribution points.
func (ca *CA) Leaf(t testing.TB, cn string, notBefore, notAfter time.Time, edits ...func(*x509.Certificate)) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key := NewKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          NextSerial(),
		Subject:               Subject(cn),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	for _, edit := range edits {
		edit(tmpl)
	}
	return key, CreateCert(t, tmpl, ca.Cert, key.Public(), ca.Key)
}

// CRL issues a CRL that revokes the given serial numbers.
func (ca *CA) CRL(t testing.TB, revoked ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, sn := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    NextSerial(),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// ValidLeaf issues a code-signing certificate valid now.
func (ca *CA) ValidLeaf(t testing.TB, cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
	return ca.Leaf(t, cn, time.Now().Add(-24*time.Hour), time.Now().Add(12*time.Hour))
}

// PEM encodes certs as a PEM bundle.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
