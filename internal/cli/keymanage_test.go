package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDefaultKey: sign uses the default key without --key; key delete
// refuses the default key unless forced, and asks first.
func TestDefaultKey(t *testing.T) {
	env, _ := trustEnv(t)
	mustRun(t, env, "key", "create", "rel", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC")
	mustRun(t, env, "key", "create", "old", "--subject", "CN=old,O=Acme,ST=WA,C=US", "--key-type", "EC")
	signed, unsigned := signedImages(t, env)
	_ = signed

	if _, stderr, code := run(t, env, "sign", unsigned, "--plain-http"); code != ExitUsage || !strings.Contains(stderr, "hallmark key default NAME") {
		t.Fatalf("sign with no key and no default: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := run(t, env, "key", "default", "nosuch"); code != ExitFailure || !strings.Contains(stderr, "nosuch") {
		t.Fatalf("key default of a missing key: exit %d\n%s", code, stderr)
	}
	mustRun(t, env, "key", "default", "rel")
	if out := mustRun(t, env, "key", "default"); strings.TrimSpace(out) != "rel" {
		t.Fatalf("key default prints %q, want rel", out)
	}
	out := mustRun(t, env, "sign", unsigned, "--plain-http")
	if !strings.Contains(out, "with key rel/1") {
		t.Fatalf("sign without --key did not use the default key:\n%s", out)
	}
	list := mustRun(t, env, "key", "list")
	if !strings.Contains(list, "rel (default)") || !strings.Contains(list, "PROTECTED BY") || strings.Count(list, "passphrase") != 2 {
		t.Fatalf("key list does not show the default and the protection:\n%s", list)
	}
	js, _, _ := run(t, env, "key", "list", "-o", "json")
	var views []keyView
	if err := json.Unmarshal([]byte(js), &views); err != nil || len(views) != 2 || !views[1].Default || views[1].Protection != "passphrase" {
		t.Fatalf("key list -o json = %s (%v)", js, err)
	}

	if _, stderr, code := run(t, env, "key", "delete", "rel", "--yes"); code != ExitFailure || !strings.Contains(stderr, "default key") || !strings.Contains(stderr, "--force") {
		t.Fatalf("key delete of the default key: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := run(t, env, "key", "delete", "old"); code != ExitFailure || !strings.Contains(stderr, "--yes") {
		t.Fatalf("key delete without an answer: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := runIn(t, env, "n\n", "key", "delete", "old"); code != ExitFailure || !strings.Contains(stderr, "Nothing deleted") {
		t.Fatalf("key delete answered no: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := run(t, env, "key", "delete", "olf", "--yes"); code != ExitFailure || !strings.Contains(stderr, `did you mean "old"?`) {
		t.Fatalf("key delete of a misspelt key: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := runIn(t, env, "y\n", "key", "delete", "old"); code != 0 {
		t.Fatalf("key delete, confirmed: %s", stderr)
	}
	out = mustRun(t, env, "key", "delete", "rel", "--yes", "--force")
	if !strings.Contains(out, "It was the default key") {
		t.Fatalf("key delete --force of the default key:\n%s", out)
	}
	if _, stderr, code := run(t, env, "sign", unsigned, "--plain-http"); code != ExitUsage {
		t.Fatalf("sign after the default key was deleted: exit %d\n%s", code, stderr)
	}
	if list := mustRun(t, env, "key", "list"); !strings.Contains(list, "No keys") {
		t.Fatalf("key list after deleting every key:\n%s", list)
	}
}

// TestKeyMessages: key show suggests the closest name; rotate prints what
// verifiers need; list tells store-key protection apart.
func TestKeyMessages(t *testing.T) {
	env, dir := trustEnv(t)
	mustRun(t, env, "key", "create", "release", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC")
	if _, stderr, code := run(t, env, "key", "show", "relaese"); code != ExitFailure || !strings.Contains(stderr, `did you mean "release"?`) {
		t.Fatalf("key show of a misspelt key: exit %d\n%s", code, stderr)
	}
	if _, stderr, _ := run(t, env, "key", "show", "release/9"); strings.Contains(stderr, "did you mean") {
		t.Fatalf("key show of a missing version suggests a name:\n%s", stderr)
	}
	_, stderr, code := run(t, env, "key", "rotate", "release")
	if code != 0 || !strings.Contains(stderr, "Verifiers need the new certificate") || !strings.Contains(stderr, "hallmark key export-cert release/2 --root-only --out release-2.pem") {
		t.Fatalf("key rotate does not say what verifiers need: exit %d\n%s", code, stderr)
	}
	// A write that fails names the file asked for, not a temporary one.
	if _, stderr, code := run(t, env, "key", "export-cert", "release", "--out", filepath.Join(dir, "nosuchdir", "r.pem")); code != ExitFailure ||
		!strings.Contains(stderr, filepath.Join(dir, "nosuchdir", "r.pem")) || strings.Contains(stderr, ".hallmark-") {
		t.Fatalf("export-cert into a missing folder: exit %d\n%s", code, stderr)
	}
	// The printed commands run as printed.
	cwd, _ := os.Getwd()
	os.Chdir(dir)
	defer os.Chdir(cwd)
	mustRun(t, env, "key", "export-cert", "release/2", "--root-only", "--out", "release-2.pem")
	mustRun(t, env, "cert", "add", "--type", "ca", "--store", "release", "release-2.pem")

	noPass := map[string]string{"HALLMARK_HOME": filepath.Join(dir, "plain"), "HALLMARK_PASSPHRASE": ""}
	mustRun(t, noPass, "key", "create", "k", "--key-type", "EC")
	if list := mustRun(t, noPass, "key", "list"); !strings.Contains(list, "store key") {
		t.Fatalf("key list of a store without passphrase:\n%s", list)
	}
}

// TestLogoutAndVersion: logout of a registry never logged in says so;
// version -o json is JSON.
func TestLogoutAndVersion(t *testing.T) {
	env, _ := trustEnv(t)
	out := mustRun(t, env, "logout", "registry.example.com")
	if !strings.Contains(out, "Not logged in to registry.example.com") {
		t.Fatalf("logout of a registry never logged in:\n%s", out)
	}
	js := mustRun(t, env, "version", "-o", "json")
	var v versionInfo
	if err := json.Unmarshal([]byte(js), &v); err != nil || v.Version != Version || v.GoVersion == "" {
		t.Fatalf("version -o json = %s (%v)", js, err)
	}
}

// TestKeyCreateFlagWords: problems with values given as flags name the
// flags, not the certificate-policy fields they fill; a policy file's
// problems keep the file's field paths.
func TestKeyCreateFlagWords(t *testing.T) {
	env, dir := trustEnv(t)
	mustRun(t, env, "key", "create", "plain", "--subject", "CN=plain,O=Acme,ST=WA,C=US", "--key-type", "EC")
	file := filepath.Join(dir, "small.json")
	os.WriteFile(file, []byte(`{"keyProperties": {"keyType": "RSA", "keySize": 1024}, "x509CertificateProperties": {"subject": "CN=a,O=Acme,ST=WA,C=US"}}`), 0o600)
	for _, tc := range []struct {
		args      []string
		want, not string
	}{
		{[]string{"key", "create", "k", "--key-size", "1024"}, "--key-size: 1024 is below 2048", "keyProperties.keySize"},
		{[]string{"key", "create", "k", "--key-type", "EC", "--curve", "P-999"}, "--curve:", "keyProperties.curve"},
		{[]string{"key", "create", "k", "--issuer", "nosuch", "--key-type", "EC"}, "--issuer:", "issuerParameters.name"},
		{[]string{"key", "create", "k", "--issuer", "plain", "--key-type", "EC"}, "hallmark key create NAME --ca", ""},
		{[]string{"key", "create", "k", "--policy", file}, "keyProperties.keySize: 1024", "--key-size"},
	} {
		_, stderr, code := run(t, env, tc.args...)
		if code != ExitFailure || !strings.Contains(stderr, tc.want) || (tc.not != "" && strings.Contains(stderr, tc.not)) {
			t.Errorf("hallmark %s: exit %d, want a message with %q and without %q:\n%s", strings.Join(tc.args, " "), code, tc.want, tc.not, stderr)
		}
	}
}
