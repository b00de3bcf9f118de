package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// TestServePicksUpRotation: a running server trusts every version of a key
// named "NAME/*" in its key store; after `hallmark key rotate`, images signed
// with the new version pass without a restart, and those signed with the old
// one still do.
func TestServePicksUpRotation(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "release", "--subject", "CN=release,O=Interop,ST=WA,C=US", "--key-type", "EC")
	old := pushImage(t, host, "app", "old", "rotation-old")
	e.hallmark("sign", old, "--key", "release", "--plain-http")
	policy := e.writeFile("trustpolicy.json", trustPolicy("strict", []string{"ca:release"}, []string{"*"}))
	certFile, keyFile, pool := servingCert(t, e.dir)
	cfgPath := filepath.Join(e.dir, "config.yaml")
	cfg := fmt.Sprintf(`tls: {certFile: %q, keyFile: %q}
trustPolicy: {file: %q}
keyStore: {dir: %q}
trustStores:
  - name: release
    type: ca
    certificates: [{key: "release/*"}]
trustStoreRefresh: 1s
registries:
  - hosts: ["127.0.0.1:*"]
    plainHTTP: true
`, certFile, keyFile, policy, e.store)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e.serve(t, pool, "--config", cfgPath)
	allowed := func(img string) bool {
		return s.review(t, "/validate", podReview("uid", "default", img)).Response.Allowed
	}
	if !allowed(old) {
		t.Fatalf("an image signed by release/1 was denied\n%s", s.logs)
	}

	e.hallmark("key", "rotate", "release")
	fresh := pushImage(t, host, "app", "new", "rotation-new")
	e.hallmark("sign", fresh, "--key", "release", "--plain-http")
	// The server picks up version 2 at its next refresh; the bound is
	// generous and is not a timing assertion.
	for i := 0; !allowed(fresh); i++ {
		if i > 100 {
			t.Fatalf("an image signed by the rotated key release/2 is still denied\n%s", s.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !allowed(old) {
		t.Fatal("after the rotation, an image signed by release/1 is denied: every version should stay trusted")
	}
}
