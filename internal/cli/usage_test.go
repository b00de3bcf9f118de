package cli

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/proctest"
)

// usageCase is one command line and what hallmark must answer to it.
type usageCase struct {
	name     string
	args     []string
	code     int
	contains []string // each must be in stderr
}

// usageCases are the command-line mistakes docs/cli.md promises exit code 2
// for, and a few neighbours that must not be mistaken for them.
func usageCases(dir string) []usageCase {
	badJSON := filepath.Join(dir, "bad-config.json")
	os.WriteFile(badJSON, []byte("{"), 0o600)
	os.MkdirAll(filepath.Join(dir, "docker"), 0o700)
	os.WriteFile(filepath.Join(dir, "docker", "config.json"), []byte("{"), 0o600)
	hugePass := filepath.Join(dir, "huge.txt")
	os.WriteFile(hugePass, make([]byte, maxPassphraseFileSize+1), 0o600)
	return []usageCase{
		{"unknown top-level command", []string{"frobnicate"}, ExitUsage, []string{`unknown command "frobnicate"`}},
		{"unknown subcommand", []string{"key", "destroy"}, ExitUsage, []string{`hallmark key: unknown command "destroy"`}},
		{"unknown config subcommand", []string{"config", "check"}, ExitUsage, []string{`hallmark config: unknown command "check"`}},
		{"misspelt subcommand suggests", []string{"key", "creat", "x"}, ExitUsage, []string{`did you mean 'hallmark key create'?`}},
		{"notation's command name", []string{"certificate", "ls"}, ExitUsage, []string{"hallmark's is 'hallmark cert'"}},
		{"unknown flag", []string{"verify", "--frobnicate"}, ExitUsage, []string{"unknown flag: --frobnicate", "hallmark verify --help"}},
		{"notation's flag name", []string{"verify", "x/y:z", "--insecure-registry"}, ExitUsage, []string{"--insecure-registry", "--plain-http"}},
		{"unknown shorthand", []string{"sign", "-z"}, ExitUsage, []string{"'z'"}},
		{"missing flag value", []string{"sign", "x/y:z", "--key"}, ExitUsage, []string{"flag needs an argument: --key"}},
		{"invalid flag value", []string{"sign", "x/y:z", "--key", "k", "--expiry", "soon"}, ExitUsage, []string{`"soon"`, "--expiry"}},
		{"invalid int value", []string{"verify", "x/y:z", "--max-signatures", "many"}, ExitUsage, []string{`"many"`, "--max-signatures"}},
		{"wrong output format", []string{"key", "list", "-o", "yaml"}, ExitUsage, []string{`--output "yaml"`}},
		{"missing argument", []string{"ls"}, ExitUsage, []string{"hallmark ls expects one image reference"}},
		{"extra argument", []string{"version", "now"}, ExitUsage, []string{"hallmark version expects no arguments"}},
		{"unknown help topic", []string{"help", "key", "nosuch"}, ExitUsage, []string{`hallmark key: unknown command "nosuch"`}},
		{"unknown completion shell", []string{"completion", "tcsh"}, ExitUsage, []string{`hallmark completion: unknown command "tcsh"`}},
		{"verify without references", []string{"verify"}, ExitUsage, []string{"at least one image reference"}},
		{"serve with a wrong --mode", []string{"serve", "--mode", "warn", "--tls-cert-file", "c", "--tls-key-file", "k", "--trust-policy", "p", "--trust-store", "s"}, ExitUsage, []string{`--mode "warn": use deny or audit`}},
		{"serve without its TLS key", []string{"serve", "--tls-cert-file", "c", "--trust-policy", "p", "--trust-store", "s"}, ExitUsage, []string{"--tls-key-file is required"}},
		{"serve with a wrong --log-level", []string{"serve", "--log-level", "verbose"}, ExitUsage, []string{`--log-level "verbose"`}},
		{"missing --registry-config", []string{"ls", "127.0.0.1:1/a:b", "--registry-config", filepath.Join(dir, "nope.json")}, ExitFailure, []string{"--registry-config", "nope.json does not exist"}},
		{"unparsable --registry-config", []string{"ls", "127.0.0.1:1/a:b", "--registry-config", badJSON}, ExitFailure, []string{"--registry-config", "is not a docker config file"}},
		{"damaged docker config", []string{"ls", "127.0.0.1:1/a:b", "--plain-http"}, ExitFailure, []string{"reading the docker config", filepath.Join(dir, "docker", "config.json")}},
		{"missing --passphrase-file", []string{"key", "list", "--passphrase-file", filepath.Join(dir, "nope.txt")}, ExitFailure, []string{"--passphrase-file", "nope.txt"}},
		{"--passphrase-file that is not a passphrase", []string{"key", "list", "--passphrase-file", hugePass}, ExitFailure, []string{"--passphrase-file", "huge.txt", "larger than allowed"}},
		{"audit with no cluster", []string{"audit", "--trust-policy", "p.json", "--trust-store", "ts"}, ExitFailure, []string{"no Kubernetes cluster to audit", filepath.Join(".kube", "config"), "--kubeconfig"}},
	}
}

// checkUsage checks one answer: exit code, one line on stderr when a usage
// error, nothing on stdout, and no doubled "Error:".
func checkUsage(t *testing.T, tc usageCase, stdout, stderr string, code int) {
	t.Helper()
	if code != tc.code {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
	}
	for _, want := range tc.contains {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not mention %q:\n%s", want, stderr)
		}
	}
	if tc.code == ExitUsage {
		if stdout != "" {
			t.Errorf("a usage error printed to stdout (help?):\n%s", stdout)
		}
		if n := strings.Count(strings.TrimRight(stderr, "\n"), "\n"); n != 0 {
			t.Errorf("a usage error takes one line, got %d:\n%s", n+1, stderr)
		}
	}
	if strings.Contains(stderr, "oci: ") {
		t.Errorf("stderr has an internal package prefix:\n%s", stderr)
	}
	if n := strings.Count(stderr, "Error:"); n > 1 {
		t.Errorf("stderr says Error: %d times:\n%s", n, stderr)
	}
}

func usageEnv(dir string) map[string]string {
	return map[string]string{
		"HOME":                filepath.Join(dir, "home"),
		"KUBECONFIG":          "",
		"HALLMARK_HOME":       filepath.Join(dir, "store"),
		"HALLMARK_PASSPHRASE": "p",
		"DOCKER_CONFIG":       filepath.Join(dir, "docker"),
	}
}

// TestUsageErrors runs every command-line mistake in process.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	env := usageEnv(dir)
	for _, tc := range usageCases(dir) {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := run(t, env, tc.args...)
			checkUsage(t, tc, stdout, stderr, code)
		})
	}
}

// TestBareGroupPrintsHelp: a command that only groups others, run bare,
// shows its help and succeeds, as git's and kubectl's do.
func TestBareGroupPrintsHelp(t *testing.T) {
	for _, args := range [][]string{{"key"}, {"config"}, {}} {
		stdout, stderr, code := run(t, usageEnv(t.TempDir()), args...)
		if code != ExitOK || !strings.Contains(stdout, "Available Commands:") || stderr != "" {
			t.Errorf("hallmark %v: exit %d, stdout:\n%s\nstderr:\n%s", args, code, stdout, stderr)
		}
	}
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// hallmarkBinary builds cmd/hallmark once for this package's tests.
func hallmarkBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the hallmark binary")
	}
	binOnce.Do(func() { binPath, _, binErr = proctest.BuildHallmark("hallmark-cli-test-") })
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestUsageErrorsBinary runs the same mistakes through the built binary, so
// that main's exit code, not only Execute's return value, is what is checked.
func TestUsageErrorsBinary(t *testing.T) {
	bin := hallmarkBinary(t)
	dir := t.TempDir()
	var add []string
	for k, v := range usageEnv(dir) {
		add = append(add, k+"="+v)
	}
	env := proctest.Environ([]string{"HOME", "KUBECONFIG", "HALLMARK_HOME", "HALLMARK_PASSPHRASE", "DOCKER_CONFIG"}, add...)
	for _, tc := range usageCases(dir) {
		t.Run(tc.name, func(t *testing.T) {
			r := proctest.Run(t, env, bin, tc.args...)
			checkUsage(t, tc, r.Stdout, r.Stderr, r.Code)
		})
	}
}

// TestServeFlagProblems: serve with flags reports every flag problem at
// once, one a line, in the flags' words (not the configuration's paths).
func TestServeFlagProblems(t *testing.T) {
	_, stderr, code := run(t, usageEnv(t.TempDir()), "serve", "--mode", "warn", "--trust-policy", "p.json")
	if code != ExitUsage {
		t.Fatalf("exit code %d, want %d\n%s", code, ExitUsage, stderr)
	}
	for _, want := range []string{"\n  --mode \"warn\"", "\n  --tls-cert-file is required", "\n  --tls-key-file is required", "\n  --trust-store is required"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks the line %q:\n%s", want, stderr)
		}
	}
	for _, unwanted := range []string{"tls.certFile", "trustStoreDir", "--trust-policy is required"} {
		if strings.Contains(stderr, unwanted) {
			t.Errorf("stderr has %q:\n%s", unwanted, stderr)
		}
	}
}

// TestVerifyCosignKeyNeitherFileNorKey: a --cosign-key value that names no
// file and is not a key reference is a usage error saying both.
func TestVerifyCosignKeyNeitherFileNorKey(t *testing.T) {
	_, stderr, code := run(t, map[string]string{"HALLMARK_HOME": t.TempDir()}, "verify", "registry.example/app@sha256:"+strings.Repeat("a", 64), "--cosign-key", "no such/key/at all")
	if code != 2 || !strings.Contains(stderr, "is neither a file nor a key reference") {
		t.Fatalf("exit %d, want 2 saying it is neither a file nor a key reference\n%s", code, stderr)
	}
}
