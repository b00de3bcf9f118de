package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// TestServeConfigReload changes the configuration file of a running server:
// a valid change applies; an invalid one is rejected and the old one stays.
func TestServeConfigReload(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "trusted", "--subject", "CN=trusted,O=Interop,ST=WA,C=US", "--key-type", "EC")
	e.writeFile(filepath.Join("ts", "x509", "ca", "trusted", "root.pem"), []byte(e.hallmark("key", "export-cert", "trusted", "--root-only").Stdout))
	policy := e.writeFile("trustpolicy.json", trustPolicy("strict", []string{"ca:trusted"}, []string{"*"}))
	unsigned := pushImage(t, host, "app", "unsigned", "reload-unsigned")
	certFile, keyFile, pool := testpeers.ServingCertFiles(t, e.dir)

	cfgPath := filepath.Join(e.dir, "config.yaml")
	writeConfig := func(mode string) {
		t.Helper()
		cfg := fmt.Sprintf(`tls: {certFile: %q, keyFile: %q}
mode: %s
trustPolicy: {file: %q}
trustStoreDir: %q
registries:
  - hosts: ["127.0.0.1:*"]
    plainHTTP: true
`, certFile, keyFile, mode, policy, filepath.Join(e.dir, "ts"))
		tmp := cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig("deny")
	s := e.serve(t, pool, "--config", cfgPath)
	allowed := func() bool { return s.review(t, "/validate", podReview("uid", "default", unsigned)).Response.Allowed }
	if allowed() {
		t.Fatal("deny mode allowed an unsigned image")
	}
	// waitFor polls until the server's answer changes; the bound is generous
	// and is not a timing assertion.
	waitFor := func(want bool) {
		t.Helper()
		if proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool { return allowed() == want }) {
			return
		}
		t.Fatalf("the server never answered allowed=%v after the change\n%s", want, s.logs)
	}
	writeConfig("audit")
	waitFor(true)

	writeConfig("permissive-please") // not a mode: rejected
	if !proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		return strings.Contains(s.logs.String(), "configuration change rejected")
	}) {
		t.Fatalf("an invalid configuration was not reported as rejected:\n%s", s.logs)
	}
	if !allowed() {
		t.Fatal("after a rejected change the server no longer runs the previous (audit) configuration")
	}
	writeConfig("deny")
	waitFor(false)
}
