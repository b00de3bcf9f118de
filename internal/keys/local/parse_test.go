package local

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

// seedFiles makes a store with one key and returns its files' contents.
func seedFiles(f *testing.F) (keyJSON, certPEM, metaJSON []byte) {
	f.Helper()
	s := testStore(f, "pw")
	mustCreate(f, s, "k", ecDoc)
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(s.versionDir("k", "1"), name))
		if err != nil {
			f.Fatal(err)
		}
		return data
	}
	return read(keyFileName), read(certFile), read(metaFileName)
}

func FuzzParseKeyFile(f *testing.F) {
	keyJSON, _, _ := seedFiles(f)
	f.Add(keyJSON)
	f.Add([]byte(`{"format":"hallmark-local-key/v1","kdf":{"name":"store-key"},"cipher":"AES-256-GCM"}`))
	f.Add(bytes.Replace(keyJSON, []byte(`"n": 1024`), []byte(`"n": 1099511627776`), 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		kf, err := parseKeyFile(data)
		if err != nil {
			return
		}
		// Whatever is accepted has parameters within the limits and can
		// be tried against a key without panicking.
		if err := kf.KDF.check(); err != nil {
			t.Fatalf("accepted KDF %+v: %v", kf.KDF, err)
		}
		sk, err := deriveSealKeys(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		_ = checkMatches(sk, kf)
		_, _ = unseal(sk, kf, "k", "1")
	})
}

func FuzzParseChain(f *testing.F) {
	_, certPEM, _ := seedFiles(f)
	f.Add(certPEM)
	f.Add(append(append([]byte{}, certPEM...), certPEM...))
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	// A stored chain that is refused is damage (ErrCorrupt); one that is
	// accepted is not empty and reads back the same once written again.
	f.Fuzz(func(t *testing.T, data []byte) {
		chain, err := parseChain(data)
		if err != nil {
			if !errors.Is(err, keys.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(chain) == 0 {
			t.Fatal("accepted an empty chain")
		}
		var written []byte
		for _, c := range chain {
			written = append(written, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		again, err := parseChain(written)
		if err != nil || len(again) != len(chain) {
			t.Fatalf("chain of %d does not read back: %v", len(chain), err)
		}
		for i := range chain {
			if !again[i].Equal(chain[i]) {
				t.Fatalf("certificate %d changed when written again", i+1)
			}
		}
	})
}

func FuzzParseMeta(f *testing.F) {
	_, _, metaJSON := seedFiles(f)
	f.Add(metaJSON)
	f.Add([]byte(`{"format":"hallmark-local-meta/v1","name":"k","version":"1","created":"2026-01-01T00:00:00Z","policy":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, p, err := parseMeta(data, "k", "1")
		if err != nil {
			return
		}
		if m.Name != "k" || m.Version != "1" {
			t.Fatalf("accepted meta for %s/%s", m.Name, m.Version)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted an invalid policy: %v", err)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkSigner(b *testing.B) {
	s := testStore(b, "pw")
	mustCreate(b, s, "k", ecDoc)
	ctx := context.Background()
	ref := keys.Ref{Name: "k"}
	if _, err := s.Signer(ctx, ref); err != nil { // derive once, as a CLI run would
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Signer(ctx, ref); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	for _, tt := range []struct{ name, doc string }{
		{"EC-256", ecDoc},
		{"EC-384", ec384Doc},
		{"RSA-2048", `{"keyProperties":{"keyType":"RSA"},"x509CertificateProperties":{"subject":"CN=a"}}`},
	} {
		b.Run(tt.name, func(b *testing.B) {
			s := testStore(b, "")
			mustCreate(b, s, "k", tt.doc)
			k := mustSigner(b, s, "k")
			for b.Loop() {
				checkSigns(b, k)
			}
		})
	}
}
