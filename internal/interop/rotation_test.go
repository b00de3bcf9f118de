package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/softhsmtest"
	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// TestServePicksUpRotation: a running server trusts every version of a key
// named "NAME/*" in its key store; after `hallmark key rotate`, images signed
// with the new version pass without a restart, and those signed with the old
// one still do.
func TestServePicksUpRotation(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	e.hallmark("key", "create", "release", "--subject", "CN=release,O=Interop,ST=WA,C=US", "--key-type", "EC")
	testRotation(t, e, "release", "release/*",
		func(extra ...string) { e.hallmark(append([]string{"key", "rotate", "release"}, extra...)...) })
}

// TestServePicksUpPKCS11Rotation: the same with a key on a SoftHSM2 token,
// named in the trust store by its PKCS#11 URI without a version (every
// version).
func TestServePicksUpPKCS11Rotation(t *testing.T) {
	skipShort(t)
	tok := softhsmtest.New(t, "rotation-pin", "rotation-hsm")[0]
	e := newEnv(t)
	policy := e.writeFile("policy.json", []byte(`{"keyProperties": {"keyType": "EC-HSM", "curve": "P-256"},
  "x509CertificateProperties": {"subject": "CN=hsm-release,O=Interop,ST=WA,C=US", "validityInMonths": 12}}`))
	e.hallmark("key", "create", "hsm-release", "--provider", "pkcs11", "--pkcs11-uri", tok.URI(""), "--policy", policy)
	testRotation(t, e, tok.URI("hsm-release"), tok.URI("hsm-release"),
		func(...string) {
			e.hallmark("key", "rotate", "hsm-release", "--provider", "pkcs11", "--pkcs11-uri", tok.URI(""), "--policy", policy)
		})
}

// testRotation signs with key, serves with a trust store holding trusted
// (every version of key), rotates, and checks that the new version is
// picked up while the old one stays trusted.
func testRotation(t *testing.T, e *env, key, trusted string, rotate func(extra ...string)) {
	t.Helper()
	host := testpeers.StartDistribution(t)
	old := pushImage(t, host, "app", "old", "rotation-old")
	e.hallmark("sign", old, "--key", key, "--plain-http")
	policy := e.writeFile("trustpolicy.json", trustPolicy("strict", []string{"ca:release"}, []string{"*"}))
	certFile, keyFile, pool := testpeers.ServingCertFiles(t, e.dir)
	cfgPath := filepath.Join(e.dir, "config.yaml")
	cfg := fmt.Sprintf(`tls: {certFile: %q, keyFile: %q}
trustPolicy: {file: %q}
keyStore: {dir: %q}
trustStores:
  - name: release
    type: ca
    certificates: [{key: %q}]
trustStoreRefresh: 1s
registries:
  - hosts: ["127.0.0.1:*"]
    plainHTTP: true
`, certFile, keyFile, policy, e.store, trusted)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e.serve(t, pool, "--config", cfgPath)
	allowed := func(img string) bool {
		return s.review(t, "/validate", podReview("uid", "default", img)).Response.Allowed
	}
	if !allowed(old) {
		t.Fatalf("an image signed by %s (version 1) was denied\n%s", key, s.logs)
	}

	rotate()
	fresh := pushImage(t, host, "app", "new", "rotation-new")
	e.hallmark("sign", fresh, "--key", key, "--plain-http")
	// The server picks up version 2 at its next refresh; the bound is
	// generous and is not a timing assertion.
	if !proctest.Eventually(10*time.Second, 100*time.Millisecond, func() bool { return allowed(fresh) }) {
		t.Fatalf("an image signed by the rotated key %s (version 2) is still denied\n%s", key, s.logs)
	}
	if !allowed(old) {
		t.Fatalf("after the rotation, an image signed by %s version 1 is denied: every version should stay trusted", key)
	}
}
