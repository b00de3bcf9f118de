package serve

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubeVolume lays out files the way a Kubernetes ConfigMap or Secret
// volume does: DIR/..TIMESTAMP/NAME, DIR/..data -> ..TIMESTAMP, and
// DIR/NAME -> ..data/NAME.
func kubeVolume(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	stamp := filepath.Join(dir, "..2025_01_01_00_00_00.000000001")
	for name, content := range files {
		writeFile(t, filepath.Join(stamp, name), content)
	}
	if err := os.Symlink(filepath.Base(stamp), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ecPolicy is a key policy for fast EC keys.
func ecPolicy(t *testing.T, subject, issuer string, ca bool) *certpolicy.Policy {
	t.Helper()
	p := certpolicy.Default()
	p.Key = certpolicy.KeyProperties{KeyType: certpolicy.KeyTypeEC, Curve: "P-256"}
	p.X509.Subject = subject
	p.Issuer.Name = issuer
	if ca {
		p.X509.EKUs = nil
		p.X509.KeyUsage = []string{"keyCertSign", "cRLSign"}
		p.X509.BasicConstraints = &certpolicy.BasicConstraints{CA: true}
	}
	return p
}

func storeHas(t *testing.T, ts interface {
	GetCertificates(context.Context, truststore.Type, string) ([]*x509.Certificate, error)
}, typ truststore.Type, name string, want ...*x509.Certificate) {
	t.Helper()
	got, err := ts.GetCertificates(t.Context(), typ, name)
	if err != nil {
		t.Fatalf("%s:%s: %v", typ, name, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s:%s holds %d certificates, want %d", typ, name, len(got), len(want))
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("%s:%s certificate %d is %s, want %s", typ, name, i, got[i].Subject, want[i].Subject)
		}
	}
}

func TestTrustStore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	rootA := signingtest.Root(t, signingtest.Key(t, signingtest.EC256), "Root A")
	rootB := signingtest.Root(t, signingtest.Key(t, signingtest.EC256), "Root B")
	rootC := signingtest.Root(t, signingtest.Key(t, signingtest.EC256), "Root C")
	rootD := signingtest.Root(t, signingtest.Key(t, signingtest.EC256), "Root D")

	pemFile := writeFile(t, filepath.Join(dir, "a.pem"), pemOf(rootA))
	derFile := writeFile(t, filepath.Join(dir, "b.der"), string(rootB.Raw))
	vol := kubeVolume(t, filepath.Join(dir, "vol"), map[string]string{"c.crt": pemOf(rootC)})

	// A key store with a self-signed key (two versions) and a key issued
	// by a CA key.
	ksDir := filepath.Join(dir, "keys")
	ks, err := local.Open(ksDir, local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const subj = ",O=Example,ST=WA,C=US"
	self1, err := ks.Create(ctx, "self", ecPolicy(t, "CN=self"+subj, "", false))
	if err != nil {
		t.Fatal(err)
	}
	self2, err := ks.Rotate(ctx, "self", nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ks.Create(ctx, "corp-ca", ecPolicy(t, "CN=Corp CA"+subj, "", true))
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ks.Create(ctx, "release", ecPolicy(t, "CN=release"+subj, "corp-ca", false))
	if err != nil {
		t.Fatal(err)
	}
	if len(issued.Chain) != 2 || len(self1.Chain) != 1 {
		t.Fatalf("unexpected chains: issued %d, self %d", len(issued.Chain), len(self1.Chain))
	}

	c := base(t)
	c.KeyStore.Dir = ksDir
	c.TrustStores = []config.TrustStore{
		{Name: "prod", Type: config.StoreTypeCA, Certificates: []config.CertificateSource{
			{File: pemFile}, {File: derFile}, {Dir: vol}, {PEM: pemOf(rootD)},
		}},
		{Name: "self-all", Type: config.StoreTypeCA, Certificates: []config.CertificateSource{{Key: "self/*"}}},
		{Name: "self-newest", Type: config.StoreTypeSigningAuthority, Certificates: []config.CertificateSource{{Key: "self"}}},
		{Name: "self-v1", Type: config.StoreTypeCA, Certificates: []config.CertificateSource{{Key: "self/1"}}},
		{Name: "release", Type: config.StoreTypeCA, Certificates: []config.CertificateSource{{Key: "release"}}},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ts, err := TrustStore(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	storeHas(t, ts, truststore.TypeCA, "prod", rootA, rootB, rootC, rootD)
	storeHas(t, ts, truststore.TypeCA, "self-all", self1.Chain[0], self2.Chain[0])
	storeHas(t, ts, truststore.TypeSigningAuthority, "self-newest", self2.Chain[0])
	storeHas(t, ts, truststore.TypeCA, "self-v1", self1.Chain[0])
	// An issued key is trusted through its issuer: stores hold CAs.
	storeHas(t, ts, truststore.TypeCA, "release", ca.Chain[0])

	t.Run("merged with trustStoreDir", func(t *testing.T) {
		tsDir := filepath.Join(dir, "truststore")
		writeFile(t, filepath.Join(tsDir, "x509", "ca", "prod", "extra.pem"), pemOf(rootB))
		writeFile(t, filepath.Join(tsDir, "x509", "tsa", "stamps", "root.pem"), pemOf(rootC))
		c := base(t)
		c.TrustStoreDir = tsDir
		c.TrustStores = []config.TrustStore{{Name: "prod", Type: config.StoreTypeCA, Certificates: []config.CertificateSource{{File: pemFile}}}}
		ts, err := TrustStore(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		storeHas(t, ts, truststore.TypeCA, "prod", rootB, rootA)
		storeHas(t, ts, truststore.TypeTSA, "stamps", rootC)
	})

	t.Run("every problem with its entry's path", func(t *testing.T) {
		leaf := signingtest.Leaf(t, signingtest.Key(t, signingtest.EC384).Public(), "Leaf", rootA, signingtest.Key(t, signingtest.EC256))
		junkDir := filepath.Join(dir, "junk")
		writeFile(t, filepath.Join(junkDir, "README"), "not a certificate")
		missingKS := filepath.Join(dir, "no-such-keys")
		c := base(t)
		c.TrustStoreDir = filepath.Join(dir, "no-such-truststore")
		c.TrustStores = []config.TrustStore{
			{Name: "prod", Type: config.StoreTypeCA, Certificates: []config.CertificateSource{
				{File: filepath.Join(dir, "missing.pem")},
				{Dir: junkDir},
				{File: writeFile(t, filepath.Join(dir, "leaf.pem"), pemOf(leaf))},
				{Key: "release"},
			}},
		}
		c.KeyStore.Dir = missingKS
		_, err := TrustStore(ctx, c)
		wantProblems(t, problemsOf(t, err), map[string]string{
			"trustStoreDir":                       "no-such-truststore",
			"trustStores[0].certificates[0].file": "missing.pem",
			"trustStores[0].certificates[1].dir":  "README: holds neither PEM nor DER certificates",
			"trustStores[0].certificates[2].file": "CA",
			"trustStores[0].certificates[3].key":  "no-such-keys",
		})
		if _, err := os.Stat(missingKS); !errors.Is(err, os.ErrNotExist) {
			t.Error("building the trust store created the missing key store folder")
		}
	})

	t.Run("unknown keys", func(t *testing.T) {
		c := base(t)
		c.KeyStore.Dir = ksDir
		c.TrustStores = []config.TrustStore{{Name: "x", Type: config.StoreTypeCA, Certificates: []config.CertificateSource{{Key: "nope"}, {Key: "nope/*"}, {Key: "self/9"}}}}
		_, err := TrustStore(ctx, c)
		got := problemsOf(t, err)
		if len(got) != 3 {
			t.Fatalf("got %q", got)
		}
		if !errors.Is(err, config.ErrInvalidConfig) {
			t.Fatal("not config.ErrInvalidConfig")
		}
	})
}

func TestTrustPolicy(t *testing.T) {
	dir := t.TempDir()
	const policy = `{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:prod"],"trustedIdentities":["*"]}]}`
	vol := kubeVolume(t, filepath.Join(dir, "vol"), map[string]string{"trustpolicy.json": policy})

	t.Run("file from a Kubernetes volume", func(t *testing.T) {
		c := base(t)
		c.TrustPolicy = config.TrustPolicy{File: filepath.Join(vol, "trustpolicy.json")}
		doc, err := TrustPolicy(c)
		if err != nil {
			t.Fatal(err)
		}
		if doc.TrustPolicies[0].Name != "p" {
			t.Fatalf("got %+v", doc)
		}
	})
	t.Run("inline", func(t *testing.T) {
		doc, err := TrustPolicy(base(t))
		if err != nil || doc.TrustPolicies[0].Name != "p" {
			t.Fatalf("got %+v, %v", doc, err)
		}
	})
	t.Run("problems in a file name the file and the field", func(t *testing.T) {
		bad := writeFile(t, filepath.Join(dir, "bad.json"), `{"version":"1.0","trustPolicies":[{"name":"p"}]}`)
		c := base(t)
		c.TrustPolicy = config.TrustPolicy{File: bad}
		_, err := TrustPolicy(c)
		got := problemsOf(t, err)
		if len(got) == 0 || !strings.HasPrefix(got[0], "trustPolicy.file: "+bad+": trustPolicies[0].") {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		c := base(t)
		c.TrustPolicy = config.TrustPolicy{File: filepath.Join(dir, "none.json")}
		_, err := TrustPolicy(c)
		if got := problemsOf(t, err); len(got) != 1 || !strings.HasPrefix(got[0], "trustPolicy.file: ") {
			t.Fatalf("got %q", got)
		}
	})
}

// tlsPair writes a server certificate and key and returns their paths.
func tlsPair(t *testing.T, dir string) config.TLS {
	t.Helper()
	key := signingtest.Key(t, signingtest.EC256)
	cert := signingtest.SelfSigned(t, key, "hallmark.hallmark.svc", signingtest.WithEKU(x509.ExtKeyUsageServerAuth))
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return config.TLS{
		CertFile: writeFile(t, filepath.Join(dir, "tls.crt"), pemOf(cert)),
		KeyFile:  writeFile(t, filepath.Join(dir, "tls.key"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))),
	}
}

func TestPrepare(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	dir := t.TempDir()
	pair := tlsPair(t, dir)
	root := signingtest.Root(t, signingtest.Key(t, signingtest.EC256), "Root")
	tsDir := filepath.Join(dir, "truststore")
	writeFile(t, filepath.Join(tsDir, "x509", "ca", "prod", "root.pem"), pemOf(root))

	t.Run("complete", func(t *testing.T) {
		c := base(t)
		c.TrustStores = nil
		c.TrustStoreDir = tsDir
		b, err := Prepare(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		if b.TrustPolicy == nil || len(b.TrustStore.Stores()) != 1 {
			t.Fatalf("got %+v", b)
		}
	})
	t.Run("a store the policy names is missing from trustStoreDir", func(t *testing.T) {
		c := base(t)
		c.TrustStores = nil
		c.TrustStoreDir = tsDir
		c.TrustPolicy.Inline = []byte(`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:prod","ca:other"],"trustedIdentities":["*"]}]}`)
		_, err := Prepare(t.Context(), c)
		wantProblems(t, problemsOf(t, err), map[string]string{
			"trustPolicy.inline.trustPolicies[0].trustStores[1]": `"ca:other" has no certificates: define it in trustStores (name: other, type: ca), or add it to trustStoreDir as x509/ca/other/`,
		})
	})
	t.Run("invalid configurations are not built", func(t *testing.T) {
		c := base(t)
		c.Mode = "maybe"
		if _, err := Prepare(t.Context(), c); len(problemsOf(t, err)) != 1 {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("problems of every part at once", func(t *testing.T) {
		c := base(t)
		c.TrustStores[0].Certificates[0].File = filepath.Join(dir, "none.pem")
		c.Registries = []config.Registry{{Hosts: []string{"r.io"}, Credentials: config.Credentials{Username: "u", PasswordFile: filepath.Join(dir, "none")}}}
		_, err := Prepare(t.Context(), c)
		wantProblems(t, problemsOf(t, err), map[string]string{
			"trustStores[0].certificates[0].file":    "none.pem",
			"registries[0].credentials.passwordFile": "none",
		})
	})
	t.Run("TLS files are checked apart", func(t *testing.T) {
		c := base(t)
		c.TLS = pair
		if err := CheckTLS(c); err != nil {
			t.Fatal(err)
		}
		c.TLS = config.TLS{CertFile: pair.KeyFile, KeyFile: pair.KeyFile, ClientCAFile: pair.KeyFile}
		wantProblems(t, problemsOf(t, CheckTLS(c)), map[string]string{
			"tls":              "do not load as a TLS key pair",
			"tls.clientCAFile": "holds a PRIVATE KEY block; a certificate file holds certificates only",
		})
	})
}
