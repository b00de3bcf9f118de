package truststore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

func TestParseTrustedCertificates(t *testing.T) {
	root := verifytest.NewRootCA(t, "root")
	inter := root.Intermediate(t, "intermediate")
	_, leaf := root.ValidLeaf(t, "leaf")
	tests := []struct {
		name string
		typ  truststore.Type
		data []byte
		want string // "" for success, else part of the error
	}{
		{"root in ca", truststore.TypeCA, verifytest.PEM(root.Cert), ""},
		{"root as DER", truststore.TypeCA, root.Cert.Raw, ""},
		{"intermediate in signingAuthority", truststore.TypeSigningAuthority, verifytest.PEM(inter.Cert), ""},
		{"root in tsa", truststore.TypeTSA, verifytest.PEM(root.Cert), ""},
		{"intermediate in tsa", truststore.TypeTSA, verifytest.PEM(inter.Cert), "not a self-signed root"},
		{"leaf", truststore.TypeCA, verifytest.PEM(leaf), "neither a CA certificate nor self-signed"},
		{"unknown type", "root", verifytest.PEM(root.Cert), "use ca, signingAuthority or tsa"},
		{"private key", truststore.TypeCA, []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), "PRIVATE KEY"},
		{"empty", truststore.TypeCA, nil, "holds no certificate"},
		{"trailing garbage", truststore.TypeCA, append(verifytest.PEM(root.Cert), "junk"...), "after the last PEM block"},
		{"too large", truststore.TypeCA, make([]byte, MaxCertFileSize+1), "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTrustedCertificates(tc.typ, tc.data)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("error = %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// FuzzParseTrustedCertificates: a file ParseTrustedCertificates accepts is
// one Load loads, with the same certificates, and one it refuses
// makes Load fail: cert add never writes what verify then rejects.
func FuzzParseTrustedCertificates(f *testing.F) {
	root := verifytest.NewRootCA(f, "root")
	inter := root.Intermediate(f, "intermediate")
	_, leaf := root.Leaf(f, "leaf", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	f.Add(uint8(0), verifytest.PEM(root.Cert))
	f.Add(uint8(1), verifytest.PEM(inter.Cert))
	f.Add(uint8(2), verifytest.PEM(inter.Cert))
	f.Add(uint8(0), verifytest.PEM(leaf))
	f.Add(uint8(0), root.Cert.Raw)
	f.Add(uint8(0), append(verifytest.PEM(root.Cert), verifytest.PEM(inter.Cert)...))
	f.Fuzz(func(t *testing.T, typeIndex uint8, data []byte) {
		typ := truststore.Types[int(typeIndex)%len(truststore.Types)]
		certs, err := ParseTrustedCertificates(typ, data)
		dir := t.TempDir()
		storeDir := filepath.Join(dir, "x509", string(typ), "s")
		if err := os.MkdirAll(storeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(storeDir, "c.pem"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		store, loadErr := Load(dir)
		if (err == nil) != (loadErr == nil) {
			t.Fatalf("ParseTrustedCertificates error = %v, Load error = %v: they disagree", err, loadErr)
		}
		if err != nil {
			return
		}
		loaded, err := store.GetCertificates(t.Context(), typ, "s")
		if err != nil {
			t.Fatal(err)
		}
		distinct := 0
		for i, c := range certs {
			if !containsCert(certs[:i], c) {
				distinct++
			}
		}
		if len(loaded) != distinct {
			t.Fatalf("parsed %d distinct certificates, Load loaded %d", distinct, len(loaded))
		}
	})
}
