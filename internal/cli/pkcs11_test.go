package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/softhsmtest"
)

// TestPKCS11BadInput drives key create and sign against a SoftHSM2 token with
// a wrong PIN, a missing module, a missing token and a missing key: each must
// fail with a message that says which, and write nothing to the token or the
// registry.
func TestPKCS11BadInput(t *testing.T) {
	ctx := context.Background()
	softhsmtest.New(t, "cli-pin", "cli-hsm")
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	desc, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v1", "pkcs11-bad-input")
	if err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("%s/app@%s", reg.Host(), desc.Digest)
	dir := t.TempDir()
	env := map[string]string{
		"HALLMARK_HOME": filepath.Join(dir, "store"), "DOCKER_CONFIG": filepath.Join(dir, "docker"),
		"HALLMARK_PKCS11_MODULE": "", "HALLMARK_PKCS11_TOKEN": "", "HALLMARK_PKCS11_PIN": "", "HALLMARK_PKCS11_PIN_FILE": "",
	}
	token := "pkcs11:token=cli-hsm?module-path=" + softhsmtest.ModulePath
	if _, stderr, code := run(t, env, "key", "create", "good", "--provider", "pkcs11", "--pkcs11-uri", token+"&pin-value=cli-pin",
		"--subject", "CN=good,O=Acme,ST=WA,C=US", "--key-type", "EC"); code != 0 {
		t.Fatalf("key create: %s", stderr)
	}
	// The PIN from the environment works as well as from the URI.
	pinEnv := map[string]string{"HALLMARK_PKCS11_PIN": "cli-pin"}
	if out, stderr, code := run(t, pinEnv, "key", "show", "pkcs11:token=cli-hsm;object=good?module-path="+softhsmtest.ModulePath); code != 0 || !strings.Contains(out, "EC-256") {
		t.Fatalf("key show with the PIN from the environment: %s%s", out, stderr)
	}
	t.Setenv("HALLMARK_PKCS11_PIN", "")

	state := func() string {
		t.Helper()
		keys, stderr, code := run(t, nil, "key", "list", "--provider", "pkcs11", "--pkcs11-uri", token+"&pin-value=cli-pin", "-o", "json")
		if code != 0 {
			t.Fatalf("key list: %s", stderr)
		}
		sigs, stderr, code := run(t, nil, "ls", image, "--plain-http", "-o", "json")
		if code != 0 {
			t.Fatalf("ls: %s", stderr)
		}
		return keys + sigs
	}
	before := state()
	keyURI := func(object, query string) string {
		return "pkcs11:token=cli-hsm;object=" + object + "?module-path=" + softhsmtest.ModulePath + query
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		contains []string
	}{
		{"sign with a wrong PIN", nil, []string{"sign", image, "--plain-http", "--key", keyURI("good", "&pin-value=wrong-pin")}, ExitFailure, []string{"refused the PIN"}},
		{"sign without a PIN", nil, []string{"sign", image, "--plain-http", "--key", keyURI("good", "")}, ExitFailure, []string{"no PIN", "HALLMARK_PKCS11_PIN"}},
		{"sign with a missing module", nil, []string{"sign", image, "--plain-http", "--key", "pkcs11:token=cli-hsm;object=good?module-path=/nonexistent/p11.so&pin-value=cli-pin"}, ExitFailure, []string{"/nonexistent/p11.so"}},
		{"sign without a module", nil, []string{"sign", image, "--plain-http", "--key", "pkcs11:token=cli-hsm;object=good?pin-value=cli-pin"}, ExitFailure, []string{"no module", "HALLMARK_PKCS11_MODULE"}},
		{"sign on a missing token", nil, []string{"sign", image, "--plain-http", "--key", "pkcs11:token=nosuch;object=good?module-path=" + softhsmtest.ModulePath + "&pin-value=cli-pin"}, ExitFailure, []string{`no PKCS#11 token "nosuch"`, `"cli-hsm"`}},
		{"sign with a missing key", nil, []string{"sign", image, "--plain-http", "--key", keyURI("absent", "&pin-value=cli-pin")}, ExitFailure, []string{`no key labelled "absent"`}},
		{"sign with a URI without a key", nil, []string{"sign", image, "--plain-http", "--key", token + "&pin-value=cli-pin"}, ExitUsage, []string{"object=NAME"}},
		{"sign with a malformed URI", nil, []string{"sign", image, "--plain-http", "--key", "pkcs11:tokn=cli-hsm"}, ExitUsage, []string{"tokn"}},
		{"create with a wrong PIN", nil, []string{"key", "create", "new", "--provider", "pkcs11", "--pkcs11-uri", token + "&pin-value=wrong-pin"}, ExitFailure, []string{"refused the PIN"}},
		{"create on a missing token", nil, []string{"key", "create", "new", "--provider", "pkcs11", "--pkcs11-uri", "pkcs11:token=nosuch?module-path=" + softhsmtest.ModulePath + "&pin-value=cli-pin"}, ExitFailure, []string{"nosuch"}},
		{"create a taken name", nil, []string{"key", "create", "good", "--provider", "pkcs11", "--pkcs11-uri", token + "&pin-value=cli-pin"}, ExitFailure, []string{"already exists"}},
		{"create with another object in the URI", nil, []string{"key", "create", "new", "--provider", "pkcs11", "--pkcs11-uri", keyURI("other", "&pin-value=cli-pin")}, ExitUsage, []string{"other"}},
		{"URI without pkcs11 provider", nil, []string{"key", "create", "new", "--pkcs11-uri", token}, ExitUsage, []string{"--provider pkcs11"}},
		{"unknown provider", nil, []string{"key", "create", "new", "--provider", "vault"}, ExitUsage, []string{"vault"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := run(t, tc.env, tc.args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			for _, want := range tc.contains {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not mention %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "cli-pin") || strings.Contains(stderr, "wrong-pin") {
				t.Errorf("stderr shows a PIN:\n%s", stderr)
			}
			if after := state(); after != before {
				t.Errorf("the token or the registry changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
