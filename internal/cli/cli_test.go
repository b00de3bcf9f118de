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

// run executes hallmark in-process with a sandboxed environment.
func run(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code = Execute(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// listFiles returns every file under dir, for "nothing written" checks.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}

// TestBadInput drives the commands with wrong input: each must fail with a
// message that says what was wrong, a non-zero exit code, and write nothing.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	desc, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v1", "bad-input")
	if err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("%s/app@%s", reg.Host(), desc.Digest)

	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	env := map[string]string{"HALLMARK_HOME": store, "HALLMARK_PASSPHRASE": "right passphrase", "DOCKER_CONFIG": filepath.Join(dir, "docker")}
	if _, stderr, code := run(t, env, "key", "create", "good", "--subject", "CN=good,O=Acme,ST=WA,C=US", "--key-type", "EC"); code != 0 {
		t.Fatalf("key create: %s", stderr)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	malformedPolicy := write("malformed.json", `{"keyProperties": {"keyType": "RSA", "keySize": "big"}}`)
	serverAuth := write("serverauth.json", `{"keyProperties": {"keyType": "RSA", "keySize": 1024},
	  "x509CertificateProperties": {"subject": "CN=web,O=Acme,ST=WA,C=US", "ekus": ["1.3.6.1.5.5.7.3.1"], "validityInMonths": 12}}`)
	badTrustPolicy := write("trustpolicy.json", `{"version": "2.0", "trustPolicies": [{"name": "a", "registryScopes": ["docker.io/library/*"],
	  "signatureVerification": {"level": "strictest"}, "trustStores": ["root:x"], "trustedIdentities": ["x509.subject: CN=x"]}]}`)
	trustStore := filepath.Join(dir, "ts")
	os.MkdirAll(filepath.Join(trustStore, "x509", "ca", "x"), 0o700)

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		contains []string
	}{
		{"malformed certificate policy", nil, []string{"key", "create", "k1", "--policy", malformedPolicy}, ExitFailure, []string{"keyProperties.keySize"}},
		{"forbidden certificate policy", nil, []string{"key", "create", "k2", "--policy", serverAuth}, ExitFailure, []string{"keyProperties.keySize", "x509CertificateProperties.ekus[0]", "serverAuth"}},
		{"missing policy file", nil, []string{"key", "create", "k3", "--policy", filepath.Join(dir, "nope.json")}, ExitFailure, []string{"nope.json"}},
		{"invalid key name", nil, []string{"key", "create", "../evil"}, ExitFailure, []string{"name"}},
		{"duplicate key name", nil, []string{"key", "create", "good", "--key-type", "EC"}, ExitFailure, []string{"good"}},
		{"unknown key", nil, []string{"key", "show", "nosuch"}, ExitFailure, []string{"nosuch"}},
		{"unknown version", nil, []string{"key", "show", "good/7"}, ExitFailure, []string{"no version 7"}},
		{"wrong passphrase", map[string]string{"HALLMARK_PASSPHRASE": "wrong"}, []string{"sign", image, "--key", "good", "--plain-http"}, ExitFailure, []string{"passphrase"}},
		{"sign without a key", nil, []string{"sign", image, "--plain-http"}, ExitUsage, []string{"--key"}},
		{"sign with an unknown format", nil, []string{"sign", image, "--key", "good", "--signature-format", "pgp", "--plain-http"}, ExitUsage, []string{"pgp"}},
		{"reference without a registry", nil, []string{"sign", "app:v1", "--key", "good"}, ExitFailure, []string{"registry"}},
		{"missing tag", nil, []string{"sign", reg.Host() + "/app:nosuchtag", "--key", "good", "--plain-http"}, ExitFailure, []string{"nosuchtag"}},
		{"missing repository", nil, []string{"ls", reg.Host() + "/nosuchrepo:v1", "--plain-http"}, ExitFailure, []string{"not found"}},
		{"malformed trust policy", nil, []string{"verify", image, "--plain-http", "--trust-policy", badTrustPolicy, "--trust-store", trustStore},
			ExitFailure, []string{"version", "trustPolicies[0].registryScopes[0]", "trustPolicies[0].signatureVerification.level", "trustPolicies[0].trustStores[0]", "trustPolicies[0].trustedIdentities[0]"}},
		{"verify without a trust policy", nil, []string{"verify", image}, ExitUsage, []string{"--trust-policy"}},
		{"unknown flag", nil, []string{"verify", "--frobnicate"}, ExitUsage, []string{"frobnicate"}},
		{"bad output format", nil, []string{"key", "list", "-o", "yaml"}, ExitUsage, []string{"yaml"}},
		{"audit lease without an audit", nil, []string{"serve", "--audit-lease", "hallmark/audit"}, ExitUsage, []string{"--audit-interval"}},
		{"audit lease without a namespace", nil, []string{"serve", "--audit-interval", "1m", "--audit-lease", "audit"}, ExitUsage, []string{"NAMESPACE/NAME"}},
		{"audit lease in an invalid namespace", nil, []string{"serve", "--audit-interval", "1m", "--audit-lease", "Team_A/audit"}, ExitUsage, []string{"namespace is not valid", "RFC 1123"}},
		{"audit lease with an invalid name", nil, []string{"serve", "--audit-interval", "1m", "--audit-lease", "hallmark/a/b"}, ExitUsage, []string{"name is not valid"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := listFiles(t, store)
			e := map[string]string{}
			for k, v := range env {
				e[k] = v
			}
			for k, v := range tc.env {
				e[k] = v
			}
			_, stderr, code := run(t, e, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, want := range tc.contains {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr)
				}
			}
			if after := listFiles(t, store); strings.Join(after, "\n") != strings.Join(before, "\n") {
				t.Errorf("the key store changed:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestKeyLifecycle creates, rotates, lists, shows and exports a key.
func TestKeyLifecycle(t *testing.T) {
	env := map[string]string{"HALLMARK_HOME": t.TempDir(), "HALLMARK_PASSPHRASE": "p"}
	if _, stderr, code := run(t, env, "key", "create", "rel", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC", "--curve", "P-256"); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := run(t, env, "key", "rotate", "rel"); code != 0 {
		t.Fatal(stderr)
	}
	out, _, _ := run(t, env, "key", "list")
	if !strings.Contains(out, "rel   1") && !strings.Contains(out, "rel") {
		t.Fatalf("key list:\n%s", out)
	}
	if n := strings.Count(out, "EC-256"); n != 2 {
		t.Fatalf("key list shows %d versions, want 2:\n%s", n, out)
	}
	show, _, _ := run(t, env, "key", "show", "rel")
	if !strings.Contains(show, "Version:     2") || !strings.Contains(show, "SHA-256:") {
		t.Fatalf("key show rel is not version 2 with a thumbprint:\n%s", show)
	}
	v1, _, _ := run(t, env, "key", "export-cert", "rel/1")
	v2, _, _ := run(t, env, "key", "export-cert", "rel")
	if !strings.HasPrefix(v1, "-----BEGIN CERTIFICATE-----") || v1 == v2 {
		t.Fatalf("export-cert of versions 1 and 2 must be two different PEM certificates")
	}
	if strings.Contains(v1+v2, "PRIVATE KEY") {
		t.Fatal("export-cert printed a private key")
	}
}
