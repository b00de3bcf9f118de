package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
)

// TestPlainHTTPDiagnosis: a registry that speaks plain HTTP, reached
// without --plain-http, gets the one diagnosis from every command, naming
// the flag, instead of a TLS failure that blames the CA; and the commands
// printed as fixes carry the flags that reach the registry.
func TestPlainHTTPDiagnosis(t *testing.T) {
	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	desc, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v1", "plain-http")
	if err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("%s/app@%s", reg.Host(), desc.Digest)

	dir := t.TempDir()
	env := map[string]string{"HALLMARK_HOME": filepath.Join(dir, "store"), "HALLMARK_PASSPHRASE": "pw", "DOCKER_CONFIG": filepath.Join(dir, "docker")}
	if _, stderr, code := run(t, env, "key", "create", "good", "--subject", "CN=good,O=Acme,ST=WA,C=US", "--key-type", "EC"); code != 0 {
		t.Fatalf("key create: %s", stderr)
	}
	root, stderr, code := run(t, env, "key", "export-cert", "good", "--root-only")
	if code != 0 {
		t.Fatalf("export-cert: %s", stderr)
	}
	store := filepath.Join(dir, "ts")
	os.MkdirAll(filepath.Join(store, "x509", "ca", "prod"), 0o700)
	os.WriteFile(filepath.Join(store, "x509", "ca", "prod", "root.pem"), []byte(root), 0o600)
	policy := filepath.Join(dir, "policy.json")
	os.WriteFile(policy, []byte(`{"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"],
	  "signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]}]}`), 0o600)

	const hint = "answered in plain HTTP: add --plain-http (or `plainHTTP: true` for this host)"
	for _, args := range [][]string{
		{"verify", image, "--trust-policy", policy, "--trust-store", store},
		{"sign", image, "--key", "good"},
		{"ls", image},
		{"inspect", image},
	} {
		t.Run(args[0], func(t *testing.T) {
			stdout, stderr, code := run(t, env, args...)
			out := stdout + stderr
			if code == 0 || !strings.Contains(out, hint) {
				t.Fatalf("hallmark %s: exit %d, output:\n%s\nwant it to say %q", strings.Join(args, " "), code, out, hint)
			}
			if strings.Contains(out, "trust the registry's CA") || strings.Contains(out, "TLS with") {
				t.Errorf("hallmark %s blames TLS:\n%s", args[0], out)
			}
		})
	}

	t.Run("fix hints run as printed", func(t *testing.T) {
		stdout, _, _ := run(t, env, "verify", image, "--plain-http", "--trust-policy", policy, "--trust-store", store)
		want := "`hallmark sign " + image + " --key KEY --plain-http`"
		if !strings.Contains(stdout, want) {
			t.Fatalf("verify of an unsigned image:\n%s\nwant the fix %s", stdout, want)
		}

		// With a default key, the printed command is run as printed, and
		// verify then passes.
		if _, stderr, code := run(t, env, "key", "default", "good"); code != 0 {
			t.Fatalf("key default: %s", stderr)
		}
		stdout, _, _ = run(t, env, "verify", image, "--plain-http", "--trust-policy", policy, "--trust-store", store)
		fix := "hallmark sign " + image + " --plain-http"
		if !strings.Contains(stdout, "`"+fix+"`") {
			t.Fatalf("verify of an unsigned image with a default key:\n%s\nwant the fix `%s`", stdout, fix)
		}
		if _, stderr, code := run(t, env, strings.Fields(fix)[1:]...); code != 0 {
			t.Fatalf("the printed fix %q failed: %s", fix, stderr)
		}
		if stdout, stderr, code := run(t, env, "verify", image, "--plain-http", "--trust-policy", policy, "--trust-store", store); code != 0 {
			t.Fatalf("verify after the printed fix: exit %d\n%s%s", code, stdout, stderr)
		}
	})
}
