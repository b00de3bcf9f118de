// Package signingtest makes throwaway keys and certificate chains for tests
// of Notary Project signing and verification: self-signed signing
// certificates, root-issued chains, and deliberately broken ones (TLS
// server certificates, expired ones). Nothing here is fit for production.
package signingtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"sync"
	"testing"
	"time"
)

// Key specs accepted by Key, named as the Notary Project names them.
const (
	RSA2048 = "RSA-2048"
	RSA3072 = "RSA-3072"
	RSA4096 = "RSA-4096"
	EC256   = "EC-256"
	EC384   = "EC-384"
	EC521   = "EC-521"
)

var (
	keyMu    sync.Mutex
	keyCache = map[string]crypto.Signer{}
)

// Key returns an in-memory private key of the given spec. Keys are cached per
// spec for the life of the test binary, because RSA generation under -race
// takes seconds and the tests do not need distinct keys.
func Key(t testing.TB, spec string) crypto.Signer {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := keyCache[spec]; ok {
		return k
	}
	k := NewKey(t, spec)
	keyCache[spec] = k
	return k
}

// NewKey returns a fresh in-memory private key of the given spec.
func NewKey(t testing.TB, spec string) crypto.Signer {
	t.Helper()
	var (
		k   crypto.Signer
		err error
	)
	switch spec {
	case RSA2048:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		k, err = rsa.GenerateKey(rand.Reader, 4096)
	case EC256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EC384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case EC521:
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		t.Fatalf("signingtest: unknown key spec %q", spec)
	}
	if err != nil {
		t.Fatalf("signingtest: generating %s key: %v", spec, err)
	}
	return k
}

// Opaque hides a key's concrete type behind crypto.Signer, as an HSM or KMS
// client does, so code under test cannot type-assert its way to the private
// key.
func Opaque(s crypto.Signer) crypto.Signer {
	return opaque{s}
}

type opaque struct{ s crypto.Signer }

func (o opaque) Public() crypto.PublicKey { return o.s.Public() }

func (o opaque) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, digest, opts)
}

// CertOption changes a certificate template before it is signed.
type CertOption func(*x509.Certificate)

// WithEKU replaces the extended key usages (codeSigning by default).
func WithEKU(ekus ...x509.ExtKeyUsage) CertOption {
	return func(c *x509.Certificate) { c.ExtKeyUsage = ekus }
}

// WithKeyUsage replaces the key usage (digitalSignature by default).
func WithKeyUsage(ku x509.KeyUsage) CertOption {
	return func(c *x509.Certificate) { c.KeyUsage = ku }
}

// WithValidity replaces the validity period (an hour ago to a day ahead by
// default).
func WithValidity(notBefore, notAfter time.Time) CertOption {
	return func(c *x509.Certificate) { c.NotBefore, c.NotAfter = notBefore, notAfter }
}

// SelfSigned returns a self-signed signing certificate for key: critical
// keyUsage digitalSignature (Go marks keyUsage critical) and the
// codeSigning EKU, as the Notary Project requires of a single-certificate
// chain.
func SelfSigned(t testing.TB, key crypto.Signer, cn string, opts ...CertOption) *x509.Certificate {
	t.Helper()
	tmpl := leafTemplate(cn)
	for _, o := range opts {
		o(tmpl)
	}
	return create(t, tmpl, tmpl, key.Public(), key)
}

// Root returns a self-signed CA certificate for key with critical
// basicConstraints cA=true and keyUsage keyCertSign.
func Root(t testing.TB, key crypto.Signer, cn string, opts ...CertOption) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               subject(cn),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, o := range opts {
		o(tmpl)
	}
	return create(t, tmpl, tmpl, key.Public(), key)
}

// Leaf returns a signing certificate for pub issued by issuer.
func Leaf(t testing.TB, pub crypto.PublicKey, cn string, issuer *x509.Certificate, issuerKey crypto.Signer, opts ...CertOption) *x509.Certificate {
	t.Helper()
	tmpl := leafTemplate(cn)
	for _, o := range opts {
		o(tmpl)
	}
	return create(t, tmpl, issuer, pub, issuerKey)
}

// Chain returns [leaf, root]: a fresh EC P-256 root named "<cn> Root" that
// issues a signing certificate for key.
func Chain(t testing.TB, key crypto.Signer, cn string, opts ...CertOption) []*x509.Certificate {
	t.Helper()
	rootKey := Key(t, EC256)
	root := Root(t, rootKey, cn+" Root")
	return []*x509.Certificate{Leaf(t, key.Public(), cn, root, rootKey, opts...), root}
}

func leafTemplate(cn string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               subject(cn),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
}

func create(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = serial(t)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatalf("signingtest: creating certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("signingtest: parsing certificate: %v", err)
	}
	return c
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("signingtest: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

// subject carries C, ST and O because notation-go's trust policy refuses
// trusted identities without them.
func subject(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"hallmark test"}, Province: []string{"WA"}, Country: []string{"US"}}
}
