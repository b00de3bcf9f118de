package verify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"testing"
	"time"
)

// Test PKI, generated per test run: a root CA, intermediates, code-signing
// leaves that meet the Notary Project certificate requirements, and the
// broken variants the tests need. ECDSA P-256 keeps generation fast.

var serialCounter atomic.Int64

func nextSerial() *big.Int { return big.NewInt(1000 + serialCounter.Add(1)) }

func subject(cn string) pkix.Name {
	return pkix.Name{Country: []string{"US"}, Province: []string{"WA"}, Organization: []string{"Acme"}, CommonName: cn}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func createCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
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

func newRootCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               subject(cn),
		NotBefore:             time.Now().Add(-7 * 24 * time.Hour), // room for leaves valid in the past
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &testCA{cert: createCert(t, tmpl, tmpl, key.Public(), key), key: key}
}

// leaf issues a code-signing certificate valid from notBefore to notAfter.
// Each edit may change the template, e.g. to add CRL distribution points.
func (ca *testCA) leaf(t testing.TB, cn string, notBefore, notAfter time.Time, edits ...func(*x509.Certificate)) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          nextSerial(),
		Subject:               subject(cn),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	for _, edit := range edits {
		edit(tmpl)
	}
	return key, createCert(t, tmpl, ca.cert, key.Public(), ca.key)
}

// crl issues a CRL that revokes the given serial numbers.
func (ca *testCA) crl(t testing.TB, revoked ...*big.Int) []byte {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, sn := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: sn, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    nextSerial(),
		ThisUpdate:                time.Now().Add(-time.Hour),
		NextUpdate:                time.Now().Add(time.Hour),
		RevokedCertificateEntries: entries,
	}, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// validLeaf issues a code-signing certificate valid now.
func (ca *testCA) validLeaf(t testing.TB, cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
	return ca.leaf(t, cn, time.Now().Add(-24*time.Hour), time.Now().Add(12*time.Hour))
}
