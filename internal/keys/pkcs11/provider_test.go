//go:build cgo

package pkcs11

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/softhsmtest"
	"github.com/hallmark-dev/hallmark/internal/signing"
)

const testPIN = "1234-test"

func policy(t testing.TB, doc string) *certpolicy.Policy {
	t.Helper()
	p, err := certpolicy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	rsaDoc = `{"keyProperties":{"keyType":"RSA-HSM","keySize":2048},"x509CertificateProperties":{"subject":"CN=hsm-rsa,O=Acme,ST=WA,C=US"}}`
	ecDoc  = `{"keyProperties":{"keyType":"EC-HSM","curve":"P-256"},"x509CertificateProperties":{"subject":"CN=hsm-ec,O=Acme,ST=WA,C=US"}}`
)

func open(t testing.TB, tok softhsmtest.Token) *Provider {
	t.Helper()
	p, err := Open(context.Background(), Config{ModulePath: softhsmtest.ModulePath, TokenLabel: tok.Label, PIN: tok.PIN}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// countObjects counts every object on the token, to show nothing was written.
func countObjects(t testing.TB, p *Provider) int {
	t.Helper()
	pairs, err := p.ctx.FindAllKeyPairs()
	if err != nil {
		t.Fatal(err)
	}
	certs, err := p.ctx.FindAllPairedCertificates()
	if err != nil {
		t.Fatal(err)
	}
	return len(pairs) + len(certs)
}

// TestCreateSignRotate makes RSA and EC keys on a SoftHSM2 token, checks
// they are sensitive and not extractable, signs through the signing adapter
// (which verifies each signature against the certificate), and rotates.
func TestCreateSignRotate(t *testing.T) {
	tok := softhsmtest.New(t, testPIN, "hallmark")[0]
	p := open(t, tok)
	ctx := context.Background()
	for _, tc := range []struct{ name, doc, spec string }{
		{"rsa", rsaDoc, "RSA-2048"},
		{"ec", ecDoc, "EC-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := p.Create(ctx, tc.name, policy(t, tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if info.Version != "1" || info.KeyType != tc.spec || len(info.Chain) != 1 {
				t.Fatalf("Create = %s/%s %s chain %d", info.Name, info.Version, info.KeyType, len(info.Chain))
			}
			key, err := p.Signer(ctx, keys.Ref{Name: tc.name})
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []struct {
				t    crypto11.AttributeType
				want byte
			}{{crypto11.CkaSensitive, 1}, {crypto11.CkaExtractable, 0}, {crypto11.CkaPrivate, 1}} {
				got, err := p.ctx.GetAttribute(key.Signer, a.t)
				if err != nil {
					t.Fatal(err)
				}
				if len(got.Value) != 1 || got.Value[0] != a.want {
					t.Errorf("attribute %#x = %v, want %d", a.t, got.Value, a.want)
				}
			}
			raw, err := signing.NewRawSigner(key.Signer, key.Chain)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := raw.Sign([]byte("signing input")); err != nil {
				t.Fatalf("sign on the token: %v", err)
			}

			v2, err := p.Rotate(ctx, tc.name, policy(t, tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if v2.Version != "2" || v2.Chain[0].Equal(info.Chain[0]) {
				t.Fatalf("Rotate = version %s", v2.Version)
			}
			newest, err := p.Get(ctx, keys.Ref{Name: tc.name})
			if err != nil || newest.Version != "2" {
				t.Fatalf("Get newest = %s, %v", newest.Version, err)
			}
			old, err := p.Get(ctx, keys.Ref{Name: tc.name, Version: "1"})
			if err != nil || !old.Chain[0].Equal(info.Chain[0]) {
				t.Fatalf("Get version 1 = %v", err)
			}
		})
	}
	list, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range list {
		got = append(got, in.Name+"/"+in.Version)
	}
	if strings.Join(got, " ") != "ec/1 ec/2 rsa/1 rsa/2" {
		t.Fatalf("List = %v", got)
	}

	// A second provider on the same token (another process, in effect)
	// sees the keys.
	p2 := open(t, tok)
	if _, err := p2.Signer(ctx, keys.Ref{Name: "rsa", Version: "2"}); err != nil {
		t.Fatal(err)
	}
}

// TestCAOnToken issues a signing certificate from a CA key on the same token
// and finds the whole chain again.
func TestCAOnToken(t *testing.T) {
	tok := softhsmtest.New(t, testPIN, "ca")[0]
	p := open(t, tok)
	ctx := context.Background()
	if _, err := p.Create(ctx, "acme-ca", policy(t, `{"keyProperties":{"keyType":"EC","curve":"P-384"},"x509CertificateProperties":{"subject":"CN=Acme CA,O=Acme,ST=WA,C=US","basicConstraints":{"ca":true}}}`)); err != nil {
		t.Fatal(err)
	}
	info, err := p.Create(ctx, "build", policy(t, `{"issuerParameters":{"name":"acme-ca"},"keyProperties":{"keyType":"RSA","keySize":3072},"x509CertificateProperties":{"subject":"CN=build,O=Acme,ST=WA,C=US"}}`))
	if err != nil {
		t.Fatal(err)
	}
	key, err := p.Signer(ctx, keys.Ref{Name: "build"})
	if err != nil {
		t.Fatal(err)
	}
	if len(key.Chain) != 2 || !key.Chain[1].Equal(info.Chain[1]) || key.Chain[1].Subject.CommonName != "Acme CA" {
		t.Fatalf("chain = %d certificates", len(key.Chain))
	}
	pool := x509.NewCertPool()
	pool.AddCert(key.Chain[1])
	if _, err := key.Chain[0].Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		t.Fatal(err)
	}
}

// TestBadInput checks each mistake gives an error that says what is wrong,
// and that nothing is written to the token.
func TestBadInput(t *testing.T) {
	tok := softhsmtest.New(t, testPIN, "good")[0]
	ctx := context.Background()
	// The token refuses the PIN itself when no one in this process is
	// logged in yet; afterwards Open compares it with the PIN that is.
	if q, err := Open(ctx, Config{ModulePath: softhsmtest.ModulePath, TokenLabel: "good", PIN: "bad-pin-9876"}, Options{}); err == nil {
		q.Close()
		t.Fatal("Open with a wrong PIN succeeded")
	} else if !errors.Is(err, keys.ErrBadPassphrase) || !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") {
		t.Fatalf("Open with a wrong PIN: %v", err)
	}
	p := open(t, tok)
	if _, err := p.Create(ctx, "taken", policy(t, ecDoc)); err != nil {
		t.Fatal(err)
	}
	before := countObjects(t, p)

	openErrs := []struct {
		name string
		cfg  Config
		is   error
		msg  string
	}{
		{"wrong PIN", Config{ModulePath: softhsmtest.ModulePath, TokenLabel: "good", PIN: "bad-pin-9876"}, keys.ErrBadPassphrase, "refused the PIN"},
		{"no PIN", Config{ModulePath: softhsmtest.ModulePath, TokenLabel: "good"}, keys.ErrBadPassphrase, "no PIN"},
		{"missing module", Config{ModulePath: "/nonexistent/libpkcs11.so", TokenLabel: "good", PIN: testPIN}, ErrModule, "/nonexistent/libpkcs11.so"},
		{"not a module", Config{ModulePath: "/etc/hostname", TokenLabel: "good", PIN: testPIN}, ErrModule, "cannot be loaded"},
		{"no module", Config{TokenLabel: "good", PIN: testPIN}, ErrModule, EnvModule},
		{"missing token", Config{ModulePath: softhsmtest.ModulePath, TokenLabel: "absent", PIN: testPIN}, keys.ErrNotFound, `tokens are "good"`},
		{"no token", Config{ModulePath: softhsmtest.ModulePath, PIN: testPIN}, keys.ErrInvalidRef, "token=LABEL"},
	}
	for _, tc := range openErrs {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Open(ctx, tc.cfg, Options{})
			if err == nil {
				q.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Open: %v; want %v mentioning %q", err, tc.is, tc.msg)
			}
			if strings.Contains(err.Error(), testPIN) || strings.Contains(err.Error(), "bad-pin-9876") {
				t.Fatalf("error shows the PIN: %v", err)
			}
		})
	}

	opErrs := []struct {
		name string
		op   func() error
		is   error
		msg  string
	}{
		{"missing key", func() error { _, err := p.Signer(ctx, keys.Ref{Name: "absent"}); return err }, keys.ErrNotFound, `no key labelled "absent"`},
		{"missing version", func() error { _, err := p.Signer(ctx, keys.Ref{Name: "taken", Version: "7"}); return err }, keys.ErrNotFound, "versions: 1"},
		{"name taken", func() error { _, err := p.Create(ctx, "taken", policy(t, ecDoc)); return err }, keys.ErrExists, "taken"},
		{"exportable", func() error {
			_, err := p.Create(ctx, "exp", policy(t, `{"keyProperties":{"keyType":"EC","exportable":true},"x509CertificateProperties":{"subject":"CN=x"}}`))
			return err
		}, keys.ErrUnsupported, "non-extractable"},
		{"missing issuer", func() error {
			_, err := p.Create(ctx, "orphan", policy(t, `{"issuerParameters":{"name":"no-ca"},"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=x"}}`))
			return err
		}, keys.ErrNotFound, "no-ca"},
		{"issuer not a CA", func() error {
			_, err := p.Create(ctx, "orphan", policy(t, `{"issuerParameters":{"name":"taken"},"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=x"}}`))
			return err
		}, keys.ErrNotCA, ""},
		{"rotate without policy", func() error { _, err := p.Rotate(ctx, "taken", nil); return err }, keys.ErrUnsupported, "--policy"},
		{"bad name", func() error { _, err := p.Create(ctx, "-x", nil); return err }, keys.ErrInvalidRef, ""},
	}
	for _, tc := range opErrs {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v; want %v mentioning %q", err, tc.is, tc.msg)
			}
		})
	}
	if after := countObjects(t, p); after != before {
		t.Fatalf("bad input changed the token: %d objects before, %d after", before, after)
	}
}
