package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
)

// runIn is run with stdin.
func runIn(t *testing.T, env map[string]string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = Execute(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// mustRun runs hallmark and fails the test unless it exits 0.
func mustRun(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	stdout, stderr, code := run(t, env, args...)
	if code != 0 {
		t.Fatalf("hallmark %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return stdout + stderr
}

// trustEnv is a fresh HOME with a key store, and notation's folder in it.
func trustEnv(t *testing.T) (env map[string]string, dir string) {
	dir = t.TempDir()
	return map[string]string{
		"HOME":                filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME":     filepath.Join(dir, "home", ".config"),
		"HALLMARK_HOME":       filepath.Join(dir, "home", ".config", "hallmark"),
		"HALLMARK_PASSPHRASE": "p",
		"DOCKER_CONFIG":       filepath.Join(dir, "docker"),
		"NOTATION_CONFIG":     "",
	}, dir
}

func signedImages(t *testing.T, env map[string]string) (signed, unsigned string) {
	t.Helper()
	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	a, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v1", "signed")
	if err != nil {
		t.Fatal(err)
	}
	b, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v2", "unsigned")
	if err != nil {
		t.Fatal(err)
	}
	signed = fmt.Sprintf("%s/app@%s", reg.Host(), a.Digest)
	unsigned = fmt.Sprintf("%s/app@%s", reg.Host(), b.Digest)
	mustRun(t, env, "sign", signed, "--key", "rel", "--plain-http")
	return signed, unsigned
}

// TestPolicyInitThenVerify: policy init makes verify work with no flags.
func TestPolicyInitThenVerify(t *testing.T) {
	env, _ := trustEnv(t)
	mustRun(t, env, "key", "create", "rel", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC")
	signed, unsigned := signedImages(t, env)

	_, stderr, code := run(t, env, "verify", signed, "--plain-http")
	if code != ExitUsage || !strings.Contains(stderr, "hallmark policy init --key NAME") || !strings.Contains(stderr, "trustpolicy.oci.json") {
		t.Fatalf("verify with no trust policy anywhere: exit %d\n%s", code, stderr)
	}
	out := mustRun(t, env, "policy", "init", "--key", "rel")
	if !strings.Contains(out, "trust store ca:rel") || !strings.Contains(out, "CN=rel,O=Acme,ST=WA,C=US") {
		t.Fatalf("policy init:\n%s", out)
	}
	out = mustRun(t, env, "verify", signed, "--plain-http")
	if !strings.Contains(out, "PASS") || !strings.Contains(out, "Using hallmark's trust policy "+filepath.Join(env["HALLMARK_HOME"], "trustpolicy.json")) {
		t.Fatalf("verify after policy init:\n%s", out)
	}
	if stdout, stderr, code := run(t, env, "verify", unsigned, "--plain-http"); code != ExitFailure || !strings.Contains(stdout, "FAIL") {
		t.Fatalf("verify of an unsigned image: exit %d\n%s%s", code, stdout, stderr)
	}
	// A second init asks first; with nothing on stdin it keeps the policy.
	if _, stderr, code := run(t, env, "policy", "init", "--key", "rel"); code != ExitFailure || !strings.Contains(stderr, "--force") {
		t.Fatalf("policy init over an existing policy: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := runIn(t, env, "y\n", "policy", "init", "--key", "rel", "--scope", "example.com/app"); code != 0 {
		t.Fatalf("policy init, confirmed: exit %d\n%s", code, stderr)
	}
	out = mustRun(t, env, "policy", "show")
	if !strings.Contains(out, `"example.com/app"`) {
		t.Fatalf("policy show after the confirmed init:\n%s", out)
	}
	// The scope no longer covers the image: no statement applies.
	if stdout, _, code := run(t, env, "verify", signed, "--plain-http"); code != ExitFailure {
		t.Fatalf("verify outside the policy's scope passed:\n%s", stdout)
	}
}

// TestVerifyUsesNotationsFolder: with nothing in hallmark's home, verify
// reads notation's trustpolicy.oci.json and truststore.
func TestVerifyUsesNotationsFolder(t *testing.T) {
	env, dir := trustEnv(t)
	mustRun(t, env, "key", "create", "rel", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC")
	signed, _ := signedImages(t, env)
	notation := filepath.Join(env["XDG_CONFIG_HOME"], "notation")
	os.MkdirAll(filepath.Join(notation, "truststore", "x509", "ca", "rel"), 0o700)
	mustRun(t, env, "key", "export-cert", "rel", "--root-only", "--out", filepath.Join(notation, "truststore", "x509", "ca", "rel", "rel.pem"))
	policy := `{"version":"1.0","trustPolicies":[{"name":"rel","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:rel"],"trustedIdentities":["*"]}]}`
	os.WriteFile(filepath.Join(notation, "trustpolicy.oci.json"), []byte(policy), 0o600)
	out := mustRun(t, env, "verify", signed, "--plain-http")
	if !strings.Contains(out, "PASS") || !strings.Contains(out, "Using notation's trust policy "+filepath.Join(notation, "trustpolicy.oci.json")) {
		t.Fatalf("verify with notation's setup:\n%s", out)
	}
	// An explicit --trust-policy still wins, with the store found beside
	// notation's.
	other := filepath.Join(dir, "other.json")
	os.WriteFile(other, []byte(strings.Replace(policy, `"*"]}]}`, `"x509.subject: CN=nobody,O=Acme,ST=WA,C=US"]}]}`, 1)), 0o600)
	if stdout, stderr, code := run(t, env, "verify", signed, "--plain-http", "--trust-policy", other); code != ExitFailure {
		t.Fatalf("verify with a policy that trusts nobody: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestCertCommands adds, lists, shows and deletes trust store certificates.
func TestCertCommands(t *testing.T) {
	env, dir := trustEnv(t)
	mustRun(t, env, "key", "create", "rel", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC")
	mustRun(t, env, "key", "create", "ca1", "--ca", "--subject", "CN=Acme CA,O=Acme,ST=WA,C=US", "--key-type", "EC")
	mustRun(t, env, "key", "create", "leaf", "--issuer", "ca1", "--subject", "CN=leaf,O=Acme,ST=WA,C=US", "--key-type", "EC")
	root := filepath.Join(dir, "root.pem")
	mustRun(t, env, "key", "export-cert", "rel", "--root-only", "--out", root)
	leafOnly := filepath.Join(dir, "leaf.pem")
	full, _, _ := run(t, env, "key", "export-cert", "leaf")
	leafPEM := full[:strings.Index(full, "-----END CERTIFICATE-----")+len("-----END CERTIFICATE-----\n")]
	os.WriteFile(leafOnly, []byte(leafPEM), 0o600)
	withKey := filepath.Join(dir, "withkey.pem")
	os.WriteFile(withKey, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)

	out := mustRun(t, env, "cert", "add", "--type", "ca", "--store", "rel", root)
	want := filepath.Join(env["HALLMARK_HOME"], "truststore", "x509", "ca", "rel", "root.pem")
	if !strings.Contains(out, want) {
		t.Fatalf("cert add does not say where:\n%s", out)
	}
	bad := []usageCase{
		{"no type", []string{"cert", "add", "--store", "rel", root}, ExitUsage, []string{"--type"}},
		{"bad type", []string{"cert", "add", "--type", "root", "--store", "rel", root}, ExitUsage, []string{`--type "root"`}},
		{"bad store name", []string{"cert", "add", "--type", "ca", "--store", "a/b", root}, ExitUsage, []string{`--store "a/b"`}},
		{"no file", []string{"cert", "add", "--type", "ca", "--store", "rel"}, ExitUsage, []string{"at least one certificate FILE"}},
		{"already there", []string{"cert", "add", "--type", "ca", "--store", "rel", root}, ExitFailure, []string{"already holds root.pem", "hallmark cert delete"}},
		{"a leaf", []string{"cert", "add", "--type", "ca", "--store", "x", leafOnly}, ExitFailure, []string{"neither a CA certificate nor self-signed"}},
		{"a private key", []string{"cert", "add", "--type", "ca", "--store", "x", withKey}, ExitFailure, []string{"PRIVATE KEY"}},
		{"missing file", []string{"cert", "add", "--type", "ca", "--store", "x", filepath.Join(dir, "nope.pem")}, ExitFailure, []string{"nope.pem"}},
		{"show unknown", []string{"cert", "show", "--type", "ca", "--store", "rel", "other.pem"}, ExitFailure, []string{`no certificate file "other.pem"`, "root.pem"}},
		{"delete unconfirmed", []string{"cert", "delete", "--type", "ca", "--store", "rel", "root.pem"}, ExitFailure, []string{"--yes"}},
		{"delete file and --all", []string{"cert", "delete", "--type", "ca", "--store", "rel", "root.pem", "--all"}, ExitUsage, []string{"FILE name or --all"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, env, tc.args...)
			checkUsage(t, tc, stdout, stderr, code)
		})
	}
	if _, err := os.Stat(filepath.Join(env["HALLMARK_HOME"], "truststore", "x509", "ca", "x")); err == nil {
		t.Error("a refused cert add created its store")
	}
	ls := mustRun(t, env, "cert", "ls")
	if !strings.Contains(ls, "ca") || !strings.Contains(ls, "root.pem") || !strings.Contains(ls, "CN=rel,O=Acme,ST=WA,C=US") {
		t.Fatalf("cert ls:\n%s", ls)
	}
	show := mustRun(t, env, "cert", "show", "--type", "ca", "--store", "rel", "root.pem")
	if !strings.Contains(show, "SHA-256:") {
		t.Fatalf("cert show:\n%s", show)
	}
	if _, stderr, code := runIn(t, env, "yes\n", "cert", "delete", "--type", "ca", "--store", "rel", "root.pem"); code != 0 {
		t.Fatalf("cert delete, confirmed: %s", stderr)
	}
	if ls := mustRun(t, env, "cert", "ls"); !strings.Contains(ls, "No certificates") {
		t.Fatalf("cert ls after delete:\n%s", ls)
	}
}

// TestPolicyImport checks what it imports, and says every problem at once.
func TestPolicyImport(t *testing.T) {
	env, dir := trustEnv(t)
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"version": "2.0", "trustPolicies": [{"name": "a", "registryScopes": ["docker.io/library/*"],
	  "signatureVerification": {"level": "strictest"}, "trustStores": ["root:x"], "trustedIdentities": ["x509.subject: CN=x"]}]}`), 0o600)
	_, stderr, code := run(t, env, "policy", "import", bad)
	if code != ExitFailure {
		t.Fatalf("import of a bad policy: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"version", "trustPolicies[0].registryScopes[0]", "trustPolicies[0].signatureVerification.level", "trustPolicies[0].trustStores[0]"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("import of a bad policy does not mention %s:\n%s", want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(env["HALLMARK_HOME"], "trustpolicy.json")); err == nil {
		t.Fatal("a refused policy was written")
	}
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`{"version":"1.0","trustPolicies":[{"name":"a","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:a"],"trustedIdentities":["*"]}]}`), 0o600)
	mustRun(t, env, "policy", "import", good)
	if _, stderr, code := run(t, env, "policy", "import", good); code != ExitFailure || !strings.Contains(stderr, "--force") {
		t.Fatalf("import over a policy without --force: exit %d\n%s", code, stderr)
	}
	mustRun(t, env, "policy", "import", good, "--force")
	if out := mustRun(t, env, "policy", "show"); !strings.Contains(out, `"ca:a"`) || !strings.Contains(out, "Hallmark's trust policy") {
		t.Fatalf("policy show:\n%s", out)
	}
}
