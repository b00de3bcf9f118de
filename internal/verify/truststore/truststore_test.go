package truststore

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/certbundle"

	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTrustStore(t *testing.T) {
	root := verifytest.NewRootCA(t, "root")
	inter := root.Intermediate(t, "intermediate")
	other := verifytest.NewRootCA(t, "other root")
	tsaRoot := verifytest.NewRootCA(t, "tsa root")
	_, leaf := root.ValidLeaf(t, "leaf")
	key := verifytest.NewKey(t)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	// good lays out a valid store under dir and returns dir.
	good := func(t *testing.T, dir string) {
		writeFile(t, filepath.Join(dir, "x509/ca/prod/bundle.pem"), verifytest.PEM(root.Cert, inter.Cert))
		writeFile(t, filepath.Join(dir, "x509/ca/prod/other.der"), other.Cert.Raw)
		writeFile(t, filepath.Join(dir, "x509/ca/prod/nested/ignored.pem"), []byte("not read"))
		writeFile(t, filepath.Join(dir, "x509/tsa/ts/root.crt"), verifytest.PEM(tsaRoot.Cert))
		writeFile(t, filepath.Join(dir, "x509/ca/README"), []byte("a stray file beside the stores is ignored"))
		if err := os.MkdirAll(filepath.Join(dir, "x509/signingAuthority/empty"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	tests := []struct {
		name       string
		setup      func(t *testing.T, dir string)
		load       func(dir string) string // which directory to pass
		wantStores []string
		wantErr    []string // substrings, each must appear
	}{
		{
			name:       "trust store root",
			setup:      good,
			wantStores: []string{"ca:prod", "tsa:ts"},
		},
		{
			name:       "notation config directory",
			setup:      func(t *testing.T, dir string) { good(t, filepath.Join(dir, "truststore")) },
			wantStores: []string{"ca:prod", "tsa:ts"},
		},
		{
			name: "links inside the store are followed",
			setup: func(t *testing.T, dir string) {
				good(t, dir)
				if err := os.Symlink("bundle.pem", filepath.Join(dir, "x509/ca/prod/link.pem")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(dir, "x509/ca/prod"), filepath.Join(dir, "x509/ca/linked")); err != nil {
					t.Fatal(err)
				}
			},
			wantStores: []string{"ca:linked", "ca:prod", "tsa:ts"},
		},
		{
			name: "Kubernetes volume layout",
			setup: func(t *testing.T, dir string) {
				// What the kubelet makes of a ConfigMap with the item
				// x509/ca/prod/root.pem, and of one mounted at x509/tsa/ts.
				good(t, filepath.Join(dir, "..2026_11_25_10_00_00.1"))
				for link, target := range map[string]string{
					"..data": "..2026_11_25_10_00_00.1",
					"x509":   "..data/x509",
				} {
					if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
						t.Fatal(err)
					}
				}
				ts := filepath.Join(dir, "..2026_11_25_10_00_00.1/x509/tsa")
				if err := os.Rename(filepath.Join(ts, "ts"), filepath.Join(ts, "..2026_11_25_10_00_00.2")); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("..2026_11_25_10_00_00.2", filepath.Join(ts, "..data")); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(filepath.Join(ts, "ts"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink("../..data/root.crt", filepath.Join(ts, "ts/root.crt")); err != nil {
					t.Fatal(err)
				}
			},
			wantStores: []string{"ca:prod", "tsa:ts"},
		},
		{
			name: "links out of the store are refused",
			setup: func(t *testing.T, dir string) {
				outside := t.TempDir()
				good(t, outside)
				writeFile(t, filepath.Join(dir, "x509/ca/prod/root.pem"), verifytest.PEM(root.Cert))
				for link, target := range map[string]string{
					"x509/ca/prod/evil.pem": filepath.Join(outside, "x509/ca/prod/bundle.pem"),
					"x509/ca/linked":        filepath.Join(outside, "x509/ca/prod"),
					"x509/tsa":              filepath.Join(outside, "x509/tsa"),
					"x509/ca/prod/relative": "../../../../" + filepath.Base(outside),
					"x509/ca/dangling":      filepath.Join(dir, "nothing"),
				} {
					if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
						t.Fatal(err)
					}
				}
			},
			wantErr: []string{
				"x509/ca/prod/evil.pem: is a symlink to ", "outside the trust store",
				"x509/ca/linked: is a symlink to ",
				"x509/tsa: is a symlink to ",
				"x509/ca/prod/relative: is a symlink to ",
				"x509/ca/dangling: is a symlink to nothing",
			},
		},
		{
			name: "a store root that is itself a link",
			setup: func(t *testing.T, dir string) {
				good(t, filepath.Join(dir, "real"))
				if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			},
			load:       func(dir string) string { return filepath.Join(dir, "link") },
			wantStores: []string{"ca:prod", "tsa:ts"},
		},
		{
			name: "leaf certificate in a ca store",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "x509/ca/prod/leaf.pem"), verifytest.PEM(leaf))
			},
			wantErr: []string{"leaf.pem: certificate CN=leaf,O=Acme,ST=WA,C=US is neither a CA certificate nor self-signed"},
		},
		{
			name: "intermediate in a tsa store",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "x509/tsa/ts/i.pem"), verifytest.PEM(inter.Cert))
			},
			wantErr: []string{"is not a self-signed root CA; tsa stores hold only"},
		},
		{
			name: "private key and garbage",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "x509/ca/prod/key.pem"), append(verifytest.PEM(root.Cert), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...))
				writeFile(t, filepath.Join(dir, "x509/ca/prod/junk.txt"), []byte("hello"))
				writeFile(t, filepath.Join(dir, "x509/ca/prod/trailing.pem"), append(verifytest.PEM(root.Cert), []byte("extra")...))
				// A block cut short before a good one: read block by
				// block, the damaged one would be skipped without a word.
				// It is cut at a line end, as a lost END line would be.
				cut := verifytest.PEM(root.Cert)
				cut = cut[:bytes.LastIndexByte(cut[:len(cut)/2], '\n')+1]
				writeFile(t, filepath.Join(dir, "x509/ca/prod/cut.pem"), append(cut, verifytest.PEM(root.Cert)...))
			},
			wantErr: []string{
				"junk.txt: holds neither PEM nor DER certificates",
				"key.pem: holds a EC PRIVATE KEY block; a certificate file holds certificates only",
				"trailing.pem: has data after the last PEM block",
				"cut.pem: PEM block 1 is truncated or malformed",
			},
		},
		{
			name: "invalid store name",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "x509/ca/my store/r.pem"), verifytest.PEM(root.Cert))
			},
			wantErr: []string{`store name "my store" is invalid`},
		},
		{
			name: "unknown store type",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "x509/CA/prod/r.pem"), verifytest.PEM(root.Cert))
			},
			wantErr: []string{`unknown trust store type "CA"`},
		},
		{
			name: "file too large",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "x509/ca/prod/big.pem"), make([]byte, certbundle.MaxFileSize+1))
			},
			wantErr: []string{"big.pem: is larger than 1048576 bytes"},
		},
		{
			name: "no x509 directory",
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "ca/prod/r.pem"), verifytest.PEM(root.Cert))
			},
			wantErr: []string{"holds neither x509/ nor truststore/x509/"},
		},
		{
			name:    "not a directory",
			setup:   func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "file"), []byte("x")) },
			load:    func(dir string) string { return filepath.Join(dir, "file") },
			wantErr: []string{"is not a directory"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			loadDir := dir
			if tt.load != nil {
				loadDir = tt.load(dir)
			}
			s, err := Load(loadDir)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Load succeeded with stores %v", s.Stores())
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("errors.Is(err, ErrInvalid) = false: %v", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not contain %q:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tt.wantStores, s.Stores()); diff != "" {
				t.Errorf("stores (-want +got):\n%s", diff)
			}
			certs, err := s.GetCertificates(context.Background(), truststore.TypeCA, "prod")
			if err != nil || len(certs) != 3 {
				t.Fatalf("GetCertificates(ca, prod) = %d certs, %v; want 3", len(certs), err)
			}
			_, err = s.GetCertificates(context.Background(), truststore.TypeSigningAuthority, "empty")
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("empty store: err = %v, want ErrNotFound", err)
			}
			wantHint := filepath.Join(s.root, "x509", "signingAuthority", "empty") + string(filepath.Separator)
			if !strings.Contains(err.Error(), "add them under "+wantHint) {
				t.Errorf("missing-store error %q does not say where to add certificates (%s)", err, wantHint)
			}
		})
	}
}

func TestTrustStoreAdd(t *testing.T) {
	root := verifytest.NewRootCA(t, "root")
	inter := root.Intermediate(t, "intermediate")
	_, leaf := root.ValidLeaf(t, "leaf")

	tests := []struct {
		name    string
		typ     truststore.Type
		store   string
		certs   []*x509.Certificate
		wantErr string
	}{
		{name: "root in ca", typ: truststore.TypeCA, store: "prod", certs: []*x509.Certificate{root.Cert}},
		{name: "intermediate in ca", typ: truststore.TypeCA, store: "prod", certs: []*x509.Certificate{inter.Cert}},
		{name: "root in tsa", typ: truststore.TypeTSA, store: "ts", certs: []*x509.Certificate{root.Cert}},
		{name: "intermediate in tsa", typ: truststore.TypeTSA, store: "ts", certs: []*x509.Certificate{inter.Cert}, wantErr: "not a self-signed root CA"},
		{name: "leaf", typ: truststore.TypeCA, store: "prod", certs: []*x509.Certificate{leaf}, wantErr: "neither a CA certificate nor self-signed"},
		{name: "unknown type", typ: "x509", store: "prod", certs: []*x509.Certificate{root.Cert}, wantErr: `unknown trust store type "x509"`},
		{name: "bad name", typ: truststore.TypeCA, store: "a/b", certs: []*x509.Certificate{root.Cert}, wantErr: `trust store name "a/b" is invalid`},
		{name: "no certificates", typ: truststore.TypeCA, store: "prod", wantErr: "no certificates given"},
		{name: "nil certificate", typ: truststore.TypeCA, store: "prod", certs: []*x509.Certificate{nil}, wantErr: "nil certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New()
			err := s.Add(tt.typ, tt.store, tt.certs...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("Add error = %v, want ErrInvalid containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			// Adding the same certificate again keeps one copy.
			if err := s.Add(tt.typ, tt.store, tt.certs...); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetCertificates(context.Background(), tt.typ, tt.store)
			if err != nil || len(got) != 1 {
				t.Fatalf("GetCertificates = %d certs, %v; want 1", len(got), err)
			}
		})
	}

	s := New()
	_, err := s.GetCertificates(context.Background(), truststore.TypeCA, "prod")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "add the signers' root or CA certificate to trust store ca:prod") {
		t.Fatalf("in-memory missing store error = %v", err)
	}
}

func TestTrustStoreFingerprint(t *testing.T) {
	a, b := verifytest.NewRootCA(t, "a").Cert, verifytest.NewRootCA(t, "b").Cert
	build := func(certs ...*x509.Certificate) *Store {
		s := New()
		if err := s.Add(truststore.TypeCA, "prod", certs...); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if build(a, b).Fingerprint() != build(b, a).Fingerprint() {
		t.Error("the order certificates were added in changed the fingerprint")
	}
	if build(a).Fingerprint() == build(a, b).Fingerprint() {
		t.Error("adding a certificate did not change the fingerprint")
	}
	other := New()
	if err := other.Add(truststore.TypeCA, "staging", a); err != nil {
		t.Fatal(err)
	}
	if other.Fingerprint() == build(a).Fingerprint() {
		t.Error("the same certificate under another store name has the same fingerprint")
	}
}
