package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/softhsmtest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

var (
	pluginOnce sync.Once
	pluginBin  string
	pluginErr  error
)

// installPlugin builds cmd/notation-hallmark once and copies it to where
// notation looks for the plugin named hallmark in e's notation config.
func (e *env) installPlugin() {
	e.t.Helper()
	pluginOnce.Do(func() {
		dir := filepath.Dir(hallmarkBin)
		_, file, _, _ := runtime.Caller(0)
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "notation-hallmark"), "./cmd/notation-hallmark")
		cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			pluginErr = err
			pluginBin = string(out)
			return
		}
		pluginBin = filepath.Join(dir, "notation-hallmark")
	})
	if pluginErr != nil {
		e.t.Fatalf("building notation-hallmark: %v\n%s", pluginErr, pluginBin)
	}
	data, err := os.ReadFile(pluginBin)
	if err != nil {
		e.t.Fatal(err)
	}
	e.writeExecutable(filepath.Join("notation", "plugins", "hallmark", "notation-hallmark"), data)
}

// writeExecutable writes an executable file under the env's folder.
func (e *env) writeExecutable(rel string, data []byte) {
	e.t.Helper()
	p := e.writeFile(rel, data)
	if err := os.Chmod(p, 0o755); err != nil {
		e.t.Fatal(err)
	}
}

// TestNotationSignsThroughHallmarkPlugin has the notation CLI sign through
// the notation-hallmark plugin, with a key in hallmark's local store and a
// key on a SoftHSM2 token, and checks that hallmark verify accepts the
// signatures.
func TestNotationSignsThroughHallmarkPlugin(t *testing.T) {
	skipShort(t)
	tok := softhsmtest.New(t, "plugin-pin", "plugin-hsm")[0]
	e := newEnv(t)
	e.installPlugin()
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "local-rsa", "--subject", "CN=local-rsa,O=Interop,ST=WA,C=US")
	e.hallmark("key", "create", "hsm-ec", "--provider", "pkcs11", "--pkcs11-uri", tok.URI(""), "--subject", "CN=hsm-ec,O=Interop,ST=WA,C=US", "--key-type", "EC")
	keyIDs := map[string]string{"local-rsa": "local-rsa", "hsm-ec": tok.URI("hsm-ec")}
	for name, id := range keyIDs {
		root := e.hallmark("key", "export-cert", id, "--root-only").Stdout
		e.writeFile(filepath.Join("ts", "x509", "ca", "plugin", name+".pem"), []byte(root))
	}
	policy := e.writeFile("policy.json", trustPolicy("strict", []string{"ca:plugin"},
		[]string{"x509.subject: C=US, ST=WA, O=Interop, CN=local-rsa", "x509.subject: C=US, ST=WA, O=Interop, CN=hsm-ec"}))
	store := filepath.Join(e.dir, "ts")

	for name, id := range keyIDs {
		for _, format := range []string{"cose", "jws"} {
			t.Run(name+"-"+format, func(t *testing.T) {
				e.t = t
				ref := pushImage(t, host, "plugin-signed", name+"-"+format, name+format)
				if r := e.notationCmd("sign", "--insecure-registry", "--signature-format", format, "--plugin", "hallmark", "--id", id, ref); r.Code != 0 {
					t.Fatalf("notation sign --plugin hallmark --id %s: %s", id, r)
				}
				out, r := e.verifyJSON(policy, store, ref)
				if r.Code != 0 || !out.Verified || out.Results[0].Code != "verified" {
					t.Fatalf("hallmark verify of a notation signature made through notation-hallmark with %s: %s", name, r)
				}
				if sigs := out.Results[0].Sigs; len(sigs) == 0 || !strings.Contains(sigs[len(sigs)-1].SignerSubject, "CN="+name) {
					t.Fatalf("verify does not name the signer %s: %s", name, r.Stdout)
				}
			})
		}
	}

	// A key the plugin does not have fails notation sign with the plugin's
	// explanation.
	e.t = t
	ref := pushImage(t, host, "plugin-signed", "missing", "missing")
	r := e.notationCmd("sign", "--insecure-registry", "--plugin", "hallmark", "--id", "no-such-key", ref)
	if r.Code == 0 || !strings.Contains(r.Stderr, "no-such-key") {
		t.Fatalf("notation sign with a missing key: %s", r)
	}
}

// TestHallmarkSignsThroughNotationPlugin has hallmark sign through an
// installed notation plugin (notation-hallmark, used as any third-party
// plugin would be) and checks that notation verify accepts the signatures;
// then it checks the errors for plugins that are missing, crash, or print
// garbage, and that they leave no signature behind.
func TestHallmarkSignsThroughNotationPlugin(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	e.installPlugin()
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "via-plugin", "--subject", "CN=via-plugin,O=Interop,ST=WA,C=US", "--key-type", "EC", "--curve", "P-384")
	root := e.hallmark("key", "export-cert", "via-plugin", "--root-only").Stdout
	e.writeFile(filepath.Join("notation", "truststore", "x509", "ca", "via-plugin", "root.pem"), []byte(root))
	e.writeFile(filepath.Join("notation", "trustpolicy.json"), trustPolicy("strict", []string{"ca:via-plugin"},
		[]string{"x509.subject: C=US, ST=WA, O=Interop, CN=via-plugin"}))

	for _, format := range []string{"cose", "jws"} {
		t.Run(format, func(t *testing.T) {
			e.t = t
			ref := pushImage(t, host, "hallmark-plugin", format, "plugin"+format)
			s := e.hallmark("sign", ref, "--plugin", "hallmark", "--id", "via-plugin", "--signature-format", format, "--plain-http",
				"--plugin-config", "store="+e.store)
			if !strings.Contains(s.Stdout, "plugin hallmark") {
				t.Fatalf("sign output does not name the plugin:\n%s", s.Stdout)
			}
			nv := e.notationCmd("verify", "--insecure-registry", ref)
			if nv.Code != 0 || !strings.Contains(nv.Stdout, "Successfully verified") {
				t.Fatalf("notation verify of a hallmark signature made through a notation plugin: %s", nv)
			}
		})
	}

	e.t = t
	e.writeExecutable(filepath.Join("notation", "plugins", "crash", "notation-crash"), []byte("#!/bin/sh\nkill -9 $$\n"))
	e.writeExecutable(filepath.Join("notation", "plugins", "garbage", "notation-garbage"), []byte("#!/bin/sh\ncat >/dev/null\necho 'hello, I am not JSON'\n"))
	e.writeExecutable(filepath.Join("notation", "plugins", "stderr", "notation-stderr"), []byte("#!/bin/sh\necho 'segfault at 0x0' >&2\nexit 139\n"))
	e.writeExecutable(filepath.Join("notation", "plugins", "verifier", "notation-verifier"), []byte("#!/bin/sh\ncat >/dev/null\n"+
		`echo '{"name":"verifier","description":"d","version":"1","url":"u","supportedContractVersions":["1.0"],"capabilities":["SIGNATURE_VERIFIER.TRUSTED_IDENTITY"]}'`+"\n"))
	ref := pushImage(t, host, "hallmark-plugin", "bad", "bad")
	before := e.hallmark("ls", ref, "--plain-http", "-o", "json").Stdout
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown plugin", []string{"--plugin", "nosuch", "--id", "k"}, 1, []string{`no plugin "nosuch"`, "installed: "}},
		{"plugin that crashes", []string{"--plugin", "crash", "--id", "k"}, 1, []string{"plugin crash", "did not run to completion", "killed"}},
		{"plugin that prints garbage", []string{"--plugin", "garbage", "--id", "k"}, 1, []string{"plugin garbage", "not a plugin protocol response"}},
		{"plugin that fails without a protocol error", []string{"--plugin", "stderr", "--id", "k"}, 1, []string{"plugin stderr", "not a plugin protocol response"}},
		{"plugin that cannot sign", []string{"--plugin", "verifier", "--id", "k"}, 1, []string{"plugin verifier cannot sign"}},
		{"plugin refuses the key", []string{"--plugin", "hallmark", "--id", "no-such-key"}, 1, []string{"plugin hallmark", "VALIDATION_ERROR", "no-such-key"}},
		{"plugin without a key ID", []string{"--plugin", "hallmark"}, 2, []string{"--id"}},
		{"key and plugin", []string{"--plugin", "hallmark", "--id", "k", "--key", "via-plugin"}, 2, []string{"give one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.run(hallmarkBin, append([]string{"sign", ref, "--plain-http"}, tc.args...)...)
			if r.Code != tc.code {
				t.Fatalf("exit code %d, want %d: %s", r.Code, tc.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr does not mention %q:\n%s", w, r.Stderr)
				}
			}
			if after := e.hallmark("ls", ref, "--plain-http", "-o", "json").Stdout; after != before {
				t.Errorf("a failed sign changed the signatures:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}
