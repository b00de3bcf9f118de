package local

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// realScrypt keeps the production parameters, which TestMain lowers.
var realScrypt = newScrypt

func TestMain(m *testing.M) {
	// scrypt at N=2^17 costs hundreds of milliseconds (more under -race) for
	// every Store that derives a key; tests use a cheaper N, and
	// TestProductionScrypt covers the real parameters.
	newScrypt.N = 1 << 10
	os.Exit(m.Run())
}

const (
	ecDoc    = `{"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=signer,O=Example,ST=WA,C=US"}}`
	ec384Doc = `{"keyProperties":{"keyType":"EC","curve":"P-384"},"x509CertificateProperties":{"subject":"CN=signer,O=Example,ST=WA,C=US"}}`
)

func policy(t testing.TB, doc string) *certpolicy.Policy {
	t.Helper()
	p, err := certpolicy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testStore opens a store in a new directory with the given passphrase.
func testStore(t testing.TB, passphrase string) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "store"), passphrase, nil)
}

func openAt(t testing.TB, dir, passphrase string, warns *[]string) *Store {
	t.Helper()
	var mu sync.Mutex
	s, err := Open(dir, Options{
		Passphrase: []byte(passphrase),
		Now:        func() time.Time { return testNow },
		Warn: func(msg string) {
			if warns != nil {
				mu.Lock()
				*warns = append(*warns, msg)
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustCreate(t testing.TB, s *Store, name, doc string) keys.Info {
	t.Helper()
	info, err := s.Create(context.Background(), name, policy(t, doc))
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	return info
}

func mustSigner(t testing.TB, s *Store, ref string) *keys.Key {
	t.Helper()
	r, err := keys.ParseRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	k, err := s.Signer(context.Background(), r)
	if err != nil {
		t.Fatalf("Signer(%s): %v", ref, err)
	}
	return k
}

// checkSigns signs a digest the way Notary Project signatures do (PSS for
// RSA, hash sized to the key) and verifies it with the certificate.
func checkSigns(t testing.TB, k *keys.Key) {
	t.Helper()
	hash := map[string]crypto.Hash{
		"RSA-2048": crypto.SHA256, "RSA-3072": crypto.SHA384, "RSA-4096": crypto.SHA512,
		"EC-256": crypto.SHA256, "EC-384": crypto.SHA384, "EC-521": crypto.SHA512,
	}[k.KeyType]
	h := hash.New()
	h.Write([]byte("payload"))
	digest := h.Sum(nil)
	switch pub := k.Chain[0].PublicKey.(type) {
	case *rsa.PublicKey:
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
		sig, err := k.Signer.Sign(rand.Reader, digest, opts)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if err := rsa.VerifyPSS(pub, hash, digest, sig, opts); err != nil {
			t.Fatalf("signature does not verify: %v", err)
		}
	case *ecdsa.PublicKey:
		sig, err := k.Signer.Sign(rand.Reader, digest, hash)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatal("signature does not verify")
		}
	default:
		t.Fatalf("unexpected key %T", pub)
	}
}

func TestCreateRotateSign(t *testing.T) {
	tests := []struct {
		keyType string
		keyDoc  string
	}{
		{"RSA-2048", `{"keyType":"RSA","keySize":2048}`},
		{"RSA-3072", `{"keyType":"RSA","keySize":3072}`}, // once: RSA keygen is slow
		{"EC-256", `{"keyType":"EC","curve":"P-256"}`},
		{"EC-384", `{"keyType":"EC","curve":"P-384"}`},
	}
	for _, tt := range tests {
		t.Run(tt.keyType, func(t *testing.T) {
			ctx := context.Background()
			s := testStore(t, "correct horse battery staple")
			doc := `{"keyProperties":` + tt.keyDoc + `,"x509CertificateProperties":{"subject":"CN=signer,O=Example,ST=WA,C=US"}}`
			v1, err := s.Create(ctx, "release", policy(t, doc))
			if err != nil {
				t.Fatal(err)
			}
			if v1.Name != "release" || v1.Version != "1" || v1.KeyType != tt.keyType || !v1.Created.Equal(testNow) || len(v1.Chain) != 1 {
				t.Fatalf("Create = %+v", v1)
			}
			if v1.Policy == nil || v1.Policy.KeySpec() != tt.keyType {
				t.Fatalf("Create kept policy %+v", v1.Policy)
			}
			checkSigns(t, mustSigner(t, s, "release"))

			v2, err := s.Rotate(ctx, "release", nil)
			if err != nil {
				t.Fatal(err)
			}
			if v2.Version != "2" || v2.KeyType != tt.keyType {
				t.Fatalf("Rotate = %s/%s %s; want version 2 of the same type", v2.Name, v2.Version, v2.KeyType)
			}
			if v2.Chain[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(v1.Chain[0].PublicKey) {
				t.Error("rotation kept the old key")
			}

			newest := mustSigner(t, s, "release")
			if newest.Version != "2" || !newest.Chain[0].Equal(v2.Chain[0]) {
				t.Errorf("Signer(release) returned version %s; want 2", newest.Version)
			}
			checkSigns(t, newest)
			old := mustSigner(t, s, "release/1")
			if !old.Chain[0].Equal(v1.Chain[0]) {
				t.Error("Signer(release/1) returned another certificate")
			}
			checkSigns(t, old)

			// A new Store derives the key again from the passphrase.
			checkSigns(t, mustSigner(t, openAt(t, s.Dir(), "correct horse battery staple", nil), "release/2"))

			got, err := s.Get(ctx, keys.Ref{Name: "release", Version: "1"})
			if err != nil || !got.Chain[0].Equal(v1.Chain[0]) || !got.Created.Equal(testNow) {
				t.Errorf("Get(release/1) = %+v, %v", got, err)
			}
			list, err := s.List(ctx)
			if err != nil || len(list) != 2 || list[0].Version != "1" || list[1].Version != "2" {
				t.Errorf("List = %v, %v; want release/1, release/2", list, err)
			}
		})
	}
}

func TestListOrder(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "")
	mustCreate(t, s, "b", ecDoc)
	mustCreate(t, s, "a", ecDoc)
	for range 10 {
		if _, err := s.Rotate(ctx, "a", nil); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, info := range list {
		got = append(got, info.Name+"/"+info.Version)
	}
	want := "a/1 a/2 a/3 a/4 a/5 a/6 a/7 a/8 a/9 a/10 a/11 b/1"
	if strings.Join(got, " ") != want {
		t.Errorf("List = %v; want %s", got, want)
	}
	if info, err := s.Get(ctx, keys.Ref{Name: "a"}); err != nil || info.Version != "11" {
		t.Errorf("Get(a) = version %s, %v; want 11 (numeric order)", info.Version, err)
	}
}

func TestEmptyStore(t *testing.T) {
	s := testStore(t, "")
	list, err := s.List(context.Background())
	if err != nil || len(list) != 0 {
		t.Errorf("List = %v, %v; want nothing", list, err)
	}
}

func TestCAIssuedKeys(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "pw")
	mustCreate(t, s, "root", `{"keyProperties":{"keyType":"EC","curve":"P-384"},"x509CertificateProperties":`+
		`{"subject":"CN=Example Root,O=Example,ST=WA,C=US","validityInMonths":120,"basicConstraints":{"ca":true}}}`)
	mustCreate(t, s, "inter", `{"issuerParameters":{"name":"root"},"keyProperties":{"keyType":"EC"},"x509CertificateProperties":`+
		`{"subject":"CN=Example Signing CA,O=Example,ST=WA,C=US","validityInMonths":60,"basicConstraints":{"ca":true,"pathLenConstraint":0}}}`)
	leafDoc := `{"issuerParameters":{"name":"inter"},"keyProperties":{"keyType":"RSA"},"x509CertificateProperties":` +
		`{"subject":"CN=release,O=Example,ST=WA,C=US"}}`
	leaf := mustCreate(t, s, "release", leafDoc)

	root, _ := s.Certificates(ctx, keys.Ref{Name: "root"})
	inter, _ := s.Certificates(ctx, keys.Ref{Name: "inter"})
	if len(leaf.Chain) != 3 || !leaf.Chain[1].Equal(inter[0]) || !leaf.Chain[2].Equal(root[0]) {
		t.Fatalf("leaf chain has %d certificates; want leaf, inter, root", len(leaf.Chain))
	}
	verifyChain(t, leaf.Chain)
	checkSigns(t, mustSigner(t, s, "release"))

	// Rotating the root and the intermediate reissues nothing, but the next
	// leaf version comes from the newest intermediate, issued by the newest root.
	if _, err := s.Rotate(ctx, "root", nil); err != nil {
		t.Fatal(err)
	}
	inter2, err := s.Rotate(ctx, "inter", nil)
	if err != nil {
		t.Fatal(err)
	}
	leaf2, err := s.Rotate(ctx, "release", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !leaf2.Chain[1].Equal(inter2.Chain[0]) || !leaf2.Chain[2].Equal(inter2.Chain[1]) {
		t.Error("rotated leaf is not issued by the newest intermediate and root")
	}
	verifyChain(t, leaf2.Chain)
	if old, err := s.Get(ctx, keys.Ref{Name: "release", Version: "1"}); err != nil || !old.Chain[1].Equal(inter[0]) {
		t.Errorf("version 1 changed after rotation: %v", err)
	}
}

// verifyChain checks a chain with crypto/x509, the root as the only trust
// anchor, for code signing.
func verifyChain(t *testing.T, chain []*x509.Certificate) {
	t.Helper()
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(chain[len(chain)-1])
	for _, c := range chain[1 : len(chain)-1] {
		inters.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters, CurrentTime: testNow,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
}

func TestIssuerErrors(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "")
	mustCreate(t, s, "plain", ecDoc)
	mustCreate(t, s, "ca", `{"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=CA","basicConstraints":{"ca":true}}}`)
	issued := func(issuer string) *certpolicy.Policy {
		return policy(t, `{"issuerParameters":{"name":"`+issuer+`"},"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=x"}}`)
	}
	tests := []struct {
		name    string
		key     string
		issuer  string
		wantErr error
		wantMsg string
	}{
		{"issuer is not a CA", "x1", "plain", keys.ErrNotCA, "key plain/1 cannot issue certificates"},
		{"issuer does not exist", "x2", "nobody", keys.ErrNotFound, `no key "nobody"`},
		{"issuer is the key itself", "ca", "ca", keys.ErrInvalidPolicy, "cannot issue its own certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.key == "ca" {
				_, err = s.Rotate(ctx, tt.key, issued(tt.issuer))
			} else {
				_, err = s.Create(ctx, tt.key, issued(tt.issuer))
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error = %v; want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if _, err := s.Get(ctx, keys.Ref{Name: tt.key, Version: "2"}); tt.key != "ca" && !errors.Is(err, keys.ErrNotFound) {
				t.Errorf("a failed create left something behind: %v", err)
			}
		})
	}
}

func TestPermissions(t *testing.T) {
	s := testStore(t, "")
	mustCreate(t, s, "k", ecDoc)
	if _, err := s.Rotate(context.Background(), "k", nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := filepath.WalkDir(s.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %#o; want %#o", path, got, want)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// store, store.key, keys, k, and two versions of three files each.
	if n != 12 {
		t.Errorf("store holds %d entries; want 12", n)
	}
}

func TestPassphrase(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	mustCreate(t, openAt(t, dir, "right", nil), "k", ecDoc)

	tests := []struct {
		name       string
		passphrase string
		wantMsg    string
	}{
		{"wrong passphrase", "wrong", "the passphrase does not unlock key k/1; give the passphrase it was created with"},
		{"no passphrase", "", "protected by a passphrase and none was given; set HALLMARK_PASSPHRASE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openAt(t, dir, tt.passphrase, nil)
			_, err := s.Signer(ctx, keys.Ref{Name: "k"})
			if !errors.Is(err, keys.ErrBadPassphrase) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Signer error = %v; want ErrBadPassphrase containing %q", err, tt.wantMsg)
			}
			// Public information needs no passphrase.
			if _, err := s.Get(ctx, keys.Ref{Name: "k"}); err != nil {
				t.Errorf("Get: %v", err)
			}
			if list, err := s.List(ctx); err != nil || len(list) != 1 {
				t.Errorf("List = %v, %v", list, err)
			}
			// Reading never makes a store.key.
			if _, err := os.Stat(filepath.Join(dir, storeKeyFile)); !errors.Is(err, fs.ErrNotExist) {
				t.Error("reading made a store.key")
			}
		})
	}
	checkSigns(t, mustSigner(t, openAt(t, dir, "right", nil), "k"))
}

func TestMixedStoreKeyAndPassphrase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	mustCreate(t, openAt(t, dir, "", nil), "plain", ecDoc)
	s := openAt(t, dir, "pw", nil)
	mustCreate(t, s, "protected", ecDoc)
	// Keys keep the protection they were made with.
	checkSigns(t, mustSigner(t, s, "plain"))
	checkSigns(t, mustSigner(t, s, "protected"))
	if kdf := readKeyFile(t, s, "plain", "1").KDF.Name; kdf != kdfStoreKey {
		t.Errorf("plain key uses %s; want %s", kdf, kdfStoreKey)
	}
	if kdf := readKeyFile(t, s, "protected", "1").KDF.Name; kdf != kdfScrypt {
		t.Errorf("protected key uses %s; want %s", kdf, kdfScrypt)
	}
}

func readKeyFile(t *testing.T, s *Store, name, version string) *keyFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.versionDir(name, version), keyFileName))
	if err != nil {
		t.Fatal(err)
	}
	kf, err := parseKeyFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

// TestProductionScrypt holds new key files to OWASP's minimum for scrypt
// (N=2^17, r=8, p=1): a key file can be attacked offline.
func TestProductionScrypt(t *testing.T) {
	if realScrypt.N < 1<<17 || realScrypt.R != 8 || realScrypt.P != 1 {
		t.Fatalf("scrypt parameters are N=%d r=%d p=%d; want N>=2^17, r=8, p=1 (OWASP's minimum)", realScrypt.N, realScrypt.R, realScrypt.P)
	}
	if err := (kdfSpec{Name: kdfScrypt, Salt: make([]byte, saltSize), N: realScrypt.N, R: realScrypt.R, P: realScrypt.P}).check(); err != nil {
		t.Fatalf("the production parameters fail the limits on key files read back: %v", err)
	}
	saved := newScrypt
	newScrypt = realScrypt
	defer func() { newScrypt = saved }()

	s := testStore(t, "pw")
	mustCreate(t, s, "k", ecDoc)
	kf := readKeyFile(t, s, "k", "1")
	if kf.KDF.N != realScrypt.N || kf.KDF.R != 8 || kf.KDF.P != 1 || len(kf.KDF.Salt) != saltSize {
		t.Errorf("key file KDF = %+v", kf.KDF)
	}
	checkSigns(t, mustSigner(t, openAt(t, s.Dir(), "pw", nil), "k"))
}

// TestFormerScryptUpgrade opens a store written with the former parameters
// (N=2^15): its key still signs, and the next version a rotation writes uses
// the current ones.
func TestFormerScryptUpgrade(t *testing.T) {
	ctx := context.Background()
	saved := newScrypt
	defer func() { newScrypt = saved }()
	newScrypt = kdfSpec{Name: kdfScrypt, N: 1 << 15, R: 8, P: 1}
	s := testStore(t, "pw")
	mustCreate(t, s, "k", ecDoc)

	newScrypt = realScrypt
	reopened := openAt(t, s.Dir(), "pw", nil)
	checkSigns(t, mustSigner(t, reopened, "k/1"))
	if _, err := reopened.Rotate(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	if kf := readKeyFile(t, s, "k", "1"); kf.KDF.N != 1<<15 {
		t.Errorf("version 1 KDF = %+v; want the N=2^15 it was written with", kf.KDF)
	}
	if kf := readKeyFile(t, s, "k", "2"); kf.KDF.N != realScrypt.N || kf.KDF.R != realScrypt.R || kf.KDF.P != realScrypt.P {
		t.Errorf("rotated version 2 KDF = %+v; want the current %+v", kf.KDF, realScrypt)
	}
	checkSigns(t, mustSigner(t, openAt(t, s.Dir(), "pw", nil), "k/2"))
}

func TestStoreKey(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	var warns []string
	s := openAt(t, dir, "", &warns)
	mustCreate(t, s, "a", ecDoc)
	mustCreate(t, s, "b", ecDoc)
	mustCreate(t, openAt(t, dir, "", &warns), "c", ecDoc)
	if len(warns) != 1 || !strings.Contains(warns[0], filepath.Join(dir, storeKeyFile)) || !strings.Contains(warns[0], "HALLMARK_PASSPHRASE") {
		t.Fatalf("warnings = %q; want one about the new store.key", warns)
	}

	t.Run("replaced", func(t *testing.T) {
		other := make([]byte, storeKeySize)
		rand.Read(other)
		saved, _ := os.ReadFile(filepath.Join(dir, storeKeyFile))
		defer os.WriteFile(filepath.Join(dir, storeKeyFile), saved, 0o600)
		if err := os.WriteFile(filepath.Join(dir, storeKeyFile), other, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := openAt(t, dir, "", nil).Signer(ctx, keys.Ref{Name: "a"})
		if !errors.Is(err, keys.ErrBadPassphrase) || !strings.Contains(err.Error(), "restore the store.key it was created with") {
			t.Fatalf("Signer error = %v; want ErrBadPassphrase about store.key", err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		saved, _ := os.ReadFile(filepath.Join(dir, storeKeyFile))
		defer os.WriteFile(filepath.Join(dir, storeKeyFile), saved, 0o600)
		os.Remove(filepath.Join(dir, storeKeyFile))
		_, err := openAt(t, dir, "", nil).Signer(ctx, keys.Ref{Name: "a"})
		if !errors.Is(err, keys.ErrBadPassphrase) || !strings.Contains(err.Error(), "is missing") {
			t.Fatalf("Signer error = %v; want ErrBadPassphrase saying store.key is missing", err)
		}
	})
	t.Run("damaged", func(t *testing.T) {
		saved, _ := os.ReadFile(filepath.Join(dir, storeKeyFile))
		defer os.WriteFile(filepath.Join(dir, storeKeyFile), saved, 0o600)
		os.WriteFile(filepath.Join(dir, storeKeyFile), []byte("short"), 0o600)
		_, err := openAt(t, dir, "", nil).Signer(ctx, keys.Ref{Name: "a"})
		if !errors.Is(err, keys.ErrCorrupt) {
			t.Fatalf("Signer error = %v; want ErrCorrupt", err)
		}
	})
	checkSigns(t, mustSigner(t, openAt(t, dir, "", nil), "c"))
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "")
	mustCreate(t, s, "k", ecDoc)
	tests := []struct {
		ref     keys.Ref
		wantErr error
		wantMsg string
	}{
		{keys.Ref{Name: "nope"}, keys.ErrNotFound, `no key "nope"`},
		{keys.Ref{Name: "k", Version: "2"}, keys.ErrNotFound, `key "k" has no version 2 (versions: 1)`},
		{keys.Ref{Name: "k", Version: "01"}, keys.ErrInvalidRef, "numbers 1, 2, 3"},
		{keys.Ref{Name: "k", Version: "latest"}, keys.ErrInvalidRef, "numbers 1, 2, 3"},
		{keys.Ref{Name: "../k"}, keys.ErrInvalidRef, "must start with a letter or digit"},
		{keys.Ref{Name: "k/../../x"}, keys.ErrInvalidRef, "has '/'"},
	}
	for _, tt := range tests {
		t.Run(tt.ref.String(), func(t *testing.T) {
			if _, err := s.Get(ctx, tt.ref); !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Get error = %v; want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if _, err := s.Signer(ctx, tt.ref); !errors.Is(err, tt.wantErr) {
				t.Errorf("Signer error = %v; want %v", err, tt.wantErr)
			}
			if _, err := s.Certificates(ctx, tt.ref); !errors.Is(err, tt.wantErr) {
				t.Errorf("Certificates error = %v; want %v", err, tt.wantErr)
			}
		})
	}
	if _, err := s.Rotate(ctx, "nope", nil); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Rotate(nope) = %v; want ErrNotFound", err)
	}
	if _, err := s.Create(ctx, "k", policy(t, ecDoc)); !errors.Is(err, keys.ErrExists) || !strings.Contains(err.Error(), "use rotate") {
		t.Errorf("Create(k) again = %v; want ErrExists", err)
	}
	if _, err := s.Create(ctx, ".hidden", policy(t, ecDoc)); !errors.Is(err, keys.ErrInvalidRef) {
		t.Errorf("Create(.hidden) = %v; want ErrInvalidRef", err)
	}
}

func TestMovedAndDamagedFiles(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "pw")
	mustCreate(t, s, "a", ecDoc)
	if _, err := s.Rotate(ctx, "a", nil); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "b", ecDoc)
	file := func(name, version, f string) string { return filepath.Join(s.versionDir(name, version), f) }
	copyFile := func(from, to string) {
		t.Helper()
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Each case damages a fresh copy of the store.
	tests := []struct {
		name    string
		damage  func(dir string)
		ref     string
		wantErr error
		wantMsg string
	}{
		{"key file from another version", func(string) { copyFile(file("a", "1", keyFileName), file("a", "2", keyFileName)) },
			"a/2", keys.ErrCorrupt, "copied from another key or version"},
		{"key file from another key", func(string) { copyFile(file("a", "1", keyFileName), file("b", "1", keyFileName)) },
			"b/1", keys.ErrCorrupt, "copied from another key or version"},
		{"certificate from another version", func(string) { copyFile(file("a", "1", certFile), file("a", "2", certFile)) },
			"a/2", keys.ErrCorrupt, "does not match its certificate"},
		{"meta from another version", func(string) { copyFile(file("a", "1", metaFileName), file("a", "2", metaFileName)) },
			"a/2", keys.ErrCorrupt, "belongs to a/1"},
		{"truncated key file", func(string) { os.WriteFile(file("a", "1", keyFileName), []byte(`{"format":`), 0o600) },
			"a/1", keys.ErrCorrupt, "key file is not valid"},
		{"flipped ciphertext bit", func(string) { flipCiphertext(t, file("a", "1", keyFileName)) },
			"a/1", keys.ErrCorrupt, "damaged"},
		{"hostile scrypt parameters", func(string) { setKDF(t, file("a", "1", keyFileName), 1<<24, 8, 1) },
			"a/1", keys.ErrCorrupt, "exceed the limits"},
		{"huge key file", func(string) { os.WriteFile(file("a", "1", keyFileName), make([]byte, maxKeyFileSize+1), 0o600) },
			"a/1", keys.ErrCorrupt, "larger than"},
		{"not a certificate", func(string) { os.WriteFile(file("a", "1", certFile), []byte("hello"), 0o600) },
			"a/1", keys.ErrCorrupt, "holds no PEM certificate"},
		{"missing key file", func(string) { os.Remove(file("a", "1", keyFileName)) },
			"a/1", fs.ErrNotExist, keyFileName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			backup := snapshot(t, s.Dir())
			defer restore(t, s.Dir(), backup)
			tt.damage(s.Dir())
			r, _ := keys.ParseRef(tt.ref)
			_, err := openAt(t, s.Dir(), "pw", nil).Signer(ctx, r)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Signer(%s) error = %v; want %v containing %q", tt.ref, err, tt.wantErr, tt.wantMsg)
			}
			if errors.Is(err, keys.ErrBadPassphrase) {
				t.Error("damage reported as a wrong passphrase")
			}
		})
	}
	// And the undamaged store still works.
	for _, ref := range []string{"a/1", "a/2", "b/1"} {
		checkSigns(t, mustSigner(t, openAt(t, s.Dir(), "pw", nil), ref))
	}
}

func flipCiphertext(t *testing.T, path string) {
	t.Helper()
	editKeyFile(t, path, func(kf *keyFile) { kf.Ciphertext[0] ^= 1 })
}

func setKDF(t *testing.T, path string, n, r, p int) {
	t.Helper()
	editKeyFile(t, path, func(kf *keyFile) { kf.KDF.N, kf.KDF.R, kf.KDF.P = n, r, p })
}

func editKeyFile(t *testing.T, path string, edit func(*keyFile)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatal(err)
	}
	edit(&kf)
	out, _ := json.Marshal(kf)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// snapshot records every file under dir so restore can undo damage.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files[path], _ = os.ReadFile(path)
		}
		return nil
	})
	return files
}

func restore(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInjectedWriteFailure(t *testing.T) {
	ctx := context.Background()
	for _, stage := range []string{"wrote cert.pem", "wrote key.enc", "wrote meta.json", "before rename"} {
		t.Run(stage, func(t *testing.T) {
			s := testStore(t, "pw")
			v1 := mustCreate(t, s, "k", ecDoc)
			injected := errors.New("disk on fire")
			writeHook = func(at string) error {
				if at == stage {
					return injected
				}
				return nil
			}
			_, rotErr := s.Rotate(ctx, "k", nil)
			_, createErr := s.Create(ctx, "fresh", policy(t, ecDoc))
			writeHook = nil

			if !errors.Is(rotErr, injected) || !errors.Is(createErr, injected) {
				t.Fatalf("Rotate = %v, Create = %v; want the injected error", rotErr, createErr)
			}
			// The previous version is intact and still signs; no partial
			// version or temporary directory is left behind.
			list, err := s.List(ctx)
			if err != nil || len(list) != 1 || list[0].Version != "1" {
				t.Fatalf("List = %v, %v; want only k/1", list, err)
			}
			k := mustSigner(t, openAt(t, s.Dir(), "pw", nil), "k")
			if !k.Chain[0].Equal(v1.Chain[0]) {
				t.Error("newest version is not the one written before the failure")
			}
			checkSigns(t, k)
			if _, err := s.Get(ctx, keys.Ref{Name: "fresh"}); !errors.Is(err, keys.ErrNotFound) {
				t.Errorf("Get(fresh) = %v; want ErrNotFound", err)
			}
			for _, name := range []string{"k", "fresh"} {
				entries, _ := os.ReadDir(filepath.Join(s.Dir(), keysDir, name))
				for _, e := range entries {
					if strings.HasPrefix(e.Name(), tempPrefix) {
						t.Errorf("temporary directory %s/%s left behind", name, e.Name())
					}
				}
			}
			// The next attempts succeed.
			if info, err := s.Rotate(ctx, "k", nil); err != nil || info.Version != "2" {
				t.Errorf("Rotate after the failure = %v, %v", info.Version, err)
			}
			mustCreate(t, s, "fresh", ecDoc)
		})
	}
}

func TestLeftoverTempDirs(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "")
	mustCreate(t, s, "k", ecDoc)
	nameDir := filepath.Join(s.Dir(), keysDir, "k")
	stale := filepath.Join(nameDir, tempPrefix+"crashed")
	fresh := filepath.Join(nameDir, tempPrefix+"writing")
	for _, dir := range []string{stale, fresh} {
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, certFile), []byte("half a cert"), 0o600)
	}
	old := time.Now().Add(-2 * staleTempAge)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	// Readers ignore both.
	if list, err := s.List(ctx); err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want k/1 only", list, err)
	}
	checkSigns(t, mustSigner(t, s, "k"))
	// The next write removes the stale one and leaves the fresh one, which
	// may belong to a writer still at work.
	if _, err := s.Rotate(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Error("stale temporary directory was not removed")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary directory was removed: %v", err)
	}
}

func TestConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate Stores, as separate processes would have.
			_, errs[i] = openAt(t, dir, "", nil).Create(ctx, "k", policy(t, ecDoc))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, keys.ErrExists):
			t.Errorf("Create error = %v; want ErrExists", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent creates succeeded; want 1", won)
	}
	list, err := openAt(t, dir, "", nil).List(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("List = %v, %v; want one key", list, err)
	}
	checkSigns(t, mustSigner(t, openAt(t, dir, "", nil), "k"))
}

func TestConcurrentRotate(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "pw")
	mustCreate(t, s, "k", ecDoc)
	const n = 6
	versions := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := s.Rotate(ctx, "k", nil)
			if err != nil {
				t.Errorf("Rotate: %v", err)
				return
			}
			versions[i] = info.Version
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, v := range versions {
		if seen[v] {
			t.Errorf("version %s returned twice", v)
		}
		seen[v] = true
	}
	for v := 1; v <= n+1; v++ {
		checkSigns(t, mustSigner(t, s, fmt.Sprintf("k/%d", v)))
	}
}

func TestPolicyKeptAcrossRotation(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "")
	mustCreate(t, s, "k", ec384Doc)
	v2, err := s.Rotate(ctx, "k", nil)
	if err != nil || v2.KeyType != "EC-384" {
		t.Fatalf("Rotate = %s, %v; want EC-384 from the stored policy", v2.KeyType, err)
	}
	got, err := s.Get(ctx, keys.Ref{Name: "k", Version: "2"})
	if err != nil || got.Policy == nil || got.Policy.X509.Subject != "CN=signer,O=Example,ST=WA,C=US" {
		t.Fatalf("Get policy = %+v, %v", got.Policy, err)
	}
	v3, err := s.Rotate(ctx, "k", policy(t, ecDoc))
	if err != nil || v3.KeyType != "EC-256" {
		t.Fatalf("Rotate with a new policy = %s, %v; want EC-256", v3.KeyType, err)
	}
}

func TestCreateOwnsPolicy(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "")
	p := policy(t, ecDoc)
	if _, err := s.Create(ctx, "k", p); err != nil {
		t.Fatal(err)
	}
	p.X509.Subject = "CN=changed"
	if got, _ := s.Get(ctx, keys.Ref{Name: "k"}); got.Policy.X509.Subject == "CN=changed" {
		t.Error("Create kept the caller's policy, not a copy")
	}
}

func TestCreateDefaultPolicy(t *testing.T) {
	info, err := testStore(t, "").Create(context.Background(), "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.KeyType != "RSA-2048" || info.Chain[0].Subject.CommonName != "hallmark" {
		t.Errorf("Create with no policy = %s %s; want RSA-2048 CN=hallmark", info.KeyType, info.Chain[0].Subject)
	}
}

func TestCreateRefusals(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "")
	tests := []struct {
		name    string
		p       *certpolicy.Policy
		wantErr error
	}{
		{"HSM key", policy(t, `{"keyProperties":{"keyType":"EC-HSM"},"x509CertificateProperties":{"subject":"CN=a"}}`), keys.ErrUnsupported},
		{"invalid policy", &certpolicy.Policy{}, keys.ErrInvalidPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Create(ctx, "k", tt.p); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Create error = %v; want %v", err, tt.wantErr)
			}
			if _, err := s.Get(ctx, keys.Ref{Name: "k"}); !errors.Is(err, keys.ErrNotFound) {
				t.Errorf("a refused create left a key: %v", err)
			}
		})
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Create(canceled, "k", policy(t, ecDoc)); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a canceled context = %v", err)
	}
}

func TestExportableRecorded(t *testing.T) {
	info := mustCreate(t, testStore(t, ""), "k",
		`{"keyProperties":{"keyType":"EC","exportable":true},"x509CertificateProperties":{"subject":"CN=a"}}`)
	if !info.Exportable {
		t.Error("Exportable not recorded")
	}
}

func TestOpen(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(file, Options{}); err == nil {
		t.Error("Open accepted a file")
	}
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open accepted an empty path")
	}
	dir := filepath.Join(base, "new", "store")
	if _, err := Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new store directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o755)
	os.Chmod(open, 0o755)
	var warns []string
	openAt(t, open, "", &warns)
	if len(warns) != 1 || !strings.Contains(warns[0], "chmod 700") {
		t.Errorf("warnings = %q; want one about the directory mode", warns)
	}
}

func TestWarnMayCallStore(t *testing.T) {
	var s *Store
	calls := 0
	s, err := Open(filepath.Join(t.TempDir(), "store"), Options{Warn: func(string) {
		calls++
		s.List(context.Background()) // would deadlock if called under the Store's lock
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "k", ecDoc)
	if calls != 1 {
		t.Errorf("Warn called %d times; want 1", calls)
	}
}
