package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
)

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DOCKER_CONFIG": filepath.Join(dir, "docker")}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	stdout, stderr, code := run(t, env, "config", "example")
	if code != 0 || stdout != string(config.Example()) {
		t.Fatalf("config example: code %d, stderr %q", code, stderr)
	}
	example := write("example.yaml", stdout)

	t.Run("the example is valid, with its warnings", func(t *testing.T) {
		stdout, stderr, code := run(t, env, "config", "validate", example)
		if code != 0 || stdout != example+" is valid\n" {
			t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
		}
		if !strings.Contains(stderr, "warning: admission.namespaceModes.staging: audit admits") {
			t.Errorf("warnings missing from stderr: %q", stderr)
		}
	})

	bad := write("bad.yaml", `
mode: warn
registries:
  - hosts: ["*.azurecr.io"]
  - hosts: ["["]
trustStores:
  - {name: prod, type: root, certificates: [{file: ca.pem}]}
trustPolicy: {file: p.json, inline: {version: "1.0"}}
verification: {cache: {positiveTTL: 1m, negativeTTL: 2m}}
`)
	wantProblems := []string{
		`tls.certFile: required`,
		`mode: "warn" must be deny or audit`,
		`registries[1].hosts[0]: "[" is not a valid glob`,
		`trustStores[0].type: "root" must be ca, signingAuthority or tsa`,
		`trustPolicy: give file or inline, not both`,
		`verification.cache.negativeTTL: 2m0s must not exceed positiveTTL`,
	}

	t.Run("every problem with its path", func(t *testing.T) {
		stdout, _, code := run(t, env, "config", "validate", bad)
		if code != ExitFailure || !strings.HasPrefix(stdout, bad+" is not valid:\n") {
			t.Fatalf("code %d, stdout %q", code, stdout)
		}
		for _, p := range wantProblems {
			if !strings.Contains(stdout, "\n  "+p) {
				t.Errorf("problem %q missing from:\n%s", p, stdout)
			}
		}
	})
	t.Run("json", func(t *testing.T) {
		stdout, _, code := run(t, env, "config", "validate", bad, "-o", "json")
		var report struct {
			Valid    bool
			Problems []struct{ Path, Message string }
		}
		if err := json.Unmarshal([]byte(stdout), &report); err != nil || code != ExitFailure || report.Valid {
			t.Fatalf("code %d, %v, %s", code, err, stdout)
		}
		if len(report.Problems) != len(wantProblems)+1 { // and tls.keyFile
			t.Errorf("%d problems, want %d: %s", len(report.Problems), len(wantProblems)+1, stdout)
		}
	})
	t.Run("build reads the files", func(t *testing.T) {
		stdout, _, code := run(t, env, "config", "validate", example, "--build")
		if code != ExitFailure || !strings.Contains(stdout, "trustStores[0].certificates[0].file: open /etc/hallmark/trust/prod-root.pem") ||
			!strings.Contains(stdout, "\n  tls: certFile and keyFile do not load") {
			t.Fatalf("code %d, stdout %q", code, stdout)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		_, stderr, code := run(t, env, "config", "validate", filepath.Join(dir, "none.yaml"))
		if code != ExitFailure || !strings.Contains(stderr, "none.yaml") {
			t.Fatalf("code %d, stderr %q", code, stderr)
		}
	})
	t.Run("usage", func(t *testing.T) {
		if _, _, code := run(t, env, "config", "validate"); code != ExitUsage {
			t.Fatalf("code %d", code)
		}
		if _, _, code := run(t, env, "config", "validate", example, "-o", "yaml"); code != ExitUsage {
			t.Fatalf("code %d", code)
		}
	})
}
