package interop

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// hallmarkBin is the hallmark binary built once for the whole package.
var hallmarkBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	bin, cleanup, err := proctest.BuildHallmark("hallmark-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hallmarkBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end interop test; runs without -short")
	}
}

// registryKind is one of the two registry paths every scenario runs on.
type registryKind struct {
	name  string
	start func(t *testing.T) string // returns host:port
}

var registries = []registryKind{
	{"distribution-tag-schema", func(t *testing.T) string { return testpeers.StartDistribution(t) }},
	{"embedded-referrers-api", func(t *testing.T) string {
		r, err := devregistry.Start(context.Background(), devregistry.Options{Referrers: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r.Host()
	}},
}

// pushImage pushes a small distinct image and returns host/repo@digest.
func pushImage(t *testing.T, host, repo, tag, label string) string {
	t.Helper()
	desc, err := devregistry.PushSampleImage(context.Background(), host, repo, tag, label)
	if err != nil {
		t.Fatalf("push %s/%s:%s: %v", host, repo, tag, err)
	}
	return fmt.Sprintf("%s/%s@%s", host, repo, desc.Digest)
}

// result of one process run.
type result = proctest.Result

// env is a sandbox: its own HOME, key store, notation config and docker config.
type env struct {
	t        *testing.T
	dir      string
	store    string
	notation string // NOTATION_CONFIG
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	e := &env{t: t, dir: dir, store: filepath.Join(dir, "store"), notation: filepath.Join(dir, "notation")}
	for _, d := range []string{e.notation, filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *env) environ() []string {
	return proctest.HomeEnviron(e.dir, "interop test passphrase", "NOTATION_CONFIG="+e.notation)
}

func (e *env) run(bin string, args ...string) result {
	e.t.Helper()
	return proctest.Run(e.t, e.environ(), bin, args...)
}

// hallmark runs the hallmark binary and fails the test unless it exits 0.
func (e *env) hallmark(args ...string) result {
	e.t.Helper()
	r := e.run(hallmarkBin, args...)
	if r.Code != 0 {
		e.t.Fatalf("hallmark %s: %s", strings.Join(args, " "), r)
	}
	return r
}

func (e *env) notationCmd(args ...string) result {
	e.t.Helper()
	return e.run(testpeers.Path(e.t, "notation"), args...)
}

// writeFile writes data under the env's folder and returns the path.
func (e *env) writeFile(rel string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// trustPolicy is a notation trustpolicy.json with one statement.
func trustPolicy(level string, stores []string, identities []string) []byte {
	doc := map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "interop",
			"registryScopes":        []string{"*"},
			"signatureVerification": map[string]any{"level": level},
			"trustStores":           stores,
			"trustedIdentities":     identities,
		}},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return b
}

// certPEM encodes certificates as PEM.
func certPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// testKey is a key pair and self-signed code-signing certificate made in the
// test, for notation to sign with.
type testKey struct {
	key  crypto.Signer
	cert *x509.Certificate
}

func newTestKey(t *testing.T, kind, cn string) testKey {
	t.Helper()
	var key crypto.Signer
	var err error
	switch kind {
	case "RSA-2048":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "EC-256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("unknown key kind %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Interop"}, Province: []string{"WA"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{key: key, cert: cert}
}

// addNotationKey registers k as a notation signing key named name.
func (e *env) addNotationKey(name string, k testKey) {
	e.t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		e.t.Fatal(err)
	}
	keyPath := e.writeFile(filepath.Join("notation", "localkeys", name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	certPath := e.writeFile(filepath.Join("notation", "localkeys", name+".crt"), certPEM(k.cert))
	path := filepath.Join(e.notation, "signingkeys.json")
	type keySuite struct {
		Name     string `json:"name"`
		KeyPath  string `json:"keyPath"`
		CertPath string `json:"certPath"`
	}
	var cfg struct {
		Keys []keySuite `json:"keys"`
	}
	if data, err := os.ReadFile(path); err == nil {
		json.Unmarshal(data, &cfg)
	}
	cfg.Keys = append(cfg.Keys, keySuite{name, keyPath, certPath})
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
}
