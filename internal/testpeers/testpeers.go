// Package testpeers builds and starts the real programs that hallmark's tests
// interoperate with: the notation CLI, the distribution registry (which has no
// referrers API, so it exercises the referrers tag schema) and the oras CLI.
// They are Go tools declared in tools/go.mod and built once into a cache
// folder keyed by that module's go.mod and go.sum, so a test run never
// downloads them twice and never uses a binary that does not match the pinned
// versions.
//
// Ratify v1.4.6, the Gatekeeper provider hallmark must match, is a tool of
// its own module, tools/ratify, with a cache folder of its own; it is built
// only when a test asks for it (RatifyPath, StartRatify), since that build
// takes minutes.
//
// cosign v2.6.5 (tools/cosign) is built the same way, on demand
// (CosignPath).
//
// Tests use it; nothing in the hallmark binary imports it.
package testpeers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/proctest"
)

// Packages of the tools, by the short name tests use.
var packages = map[string]string{
	"notation": "github.com/notaryproject/notation/cmd/notation",
	"registry": "github.com/distribution/distribution/v3/cmd/registry",
	"oras":     "oras.land/oras/cmd/oras",
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// moduleRoot finds the hallmark module root from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Dir returns the folder holding the built tools, building them if needed.
// HALLMARK_TOOLS_BIN points at a folder that already holds them (CI builds
// them there once); otherwise they are built under the user cache folder.
func Dir(t testing.TB) string {
	t.Helper()
	dir, err := Build()
	if err != nil {
		t.Fatalf("test peers: %v", err)
	}
	return dir
}

// Build builds the tools if the cache lacks them and returns their folder.
func Build() (string, error) {
	buildOnce.Do(func() { binDir, buildErr = build() })
	return binDir, buildErr
}

// Path returns the path of one tool ("notation", "registry" or "oras").
func Path(t testing.TB, name string) string {
	t.Helper()
	if _, ok := packages[name]; !ok {
		t.Fatalf("test peers: unknown tool %q", name)
	}
	return filepath.Join(Dir(t), name)
}

func build() (string, error) {
	if dir := os.Getenv("HALLMARK_TOOLS_BIN"); dir != "" {
		for name := range packages {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return "", fmt.Errorf("HALLMARK_TOOLS_BIN=%s lacks %s: %w", dir, name, err)
			}
		}
		return dir, nil
	}
	return buildModule(filepath.Join(moduleRoot(), "tools"), "tools-", packages, nil)
}

// buildModule builds pkgs of the Go module in modDir into a folder under the
// user cache folder named prefix plus a hash of the module's go.mod and
// go.sum, unless that folder already holds them, and returns the folder. env
// is added to the go command's environment.
func buildModule(modDir, prefix string, pkgs map[string]string, env []string) (string, error) {
	dir, err := cacheDir(modDir, prefix)
	if err != nil {
		return "", err
	}
	if complete(dir, pkgs) {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// Several test packages may build at once: one builds while the others wait.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if complete(dir, pkgs) {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "build-")
	if err != nil {
		return "", err
	}
	args := []string{"build", "-o", tmp + string(filepath.Separator)}
	for _, pkg := range pkgs {
		args = append(args, pkg)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = modDir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("go %v in %s: %v\n%s", args, modDir, err, out.String())
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// cacheDir is the folder the module in modDir builds into: prefix and a
// hash of its go.mod and go.sum under the user cache folder. CI keeps these
// folders between runs, so the derivation must not change: a new key
// rebuilds every peer, which takes many minutes.
func cacheDir(modDir, prefix string) (string, error) {
	sum, err := os.ReadFile(filepath.Join(modDir, "go.sum"))
	if err != nil {
		return "", err
	}
	mod, err := os.ReadFile(filepath.Join(modDir, "go.mod"))
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(append(mod, sum...))
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return filepath.Join(cache, "hallmark", prefix+hex.EncodeToString(h[:8])), nil
}

func complete(dir string, pkgs map[string]string) bool {
	for name := range pkgs {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}
	return true
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartDistribution runs the distribution v3 registry on a loopback port with
// in-memory storage and returns its host:port. The process stops with the test.
func StartDistribution(t testing.TB) string {
	t.Helper()
	return startDistribution(t, "")
}

// TokenAuth is the distribution registry's token authentication: a client
// without a token is sent to Realm for one, and the registry accepts JWTs
// issued by Issuer for Service, signed by a key whose certificate is in
// RootCertBundle (a PEM file).
type TokenAuth struct {
	Realm, Service, Issuer, RootCertBundle string
}

// StartDistributionTokenAuth is StartDistribution with token
// authentication (auth: token).
func StartDistributionTokenAuth(t testing.TB, a TokenAuth) string {
	t.Helper()
	return startDistribution(t, fmt.Sprintf("auth:\n  token:\n    realm: %q\n    service: %q\n    issuer: %q\n    rootcertbundle: %q\n", a.Realm, a.Service, a.Issuer, a.RootCertBundle))
}

func startDistribution(t testing.TB, extraConfig string) string {
	t.Helper()
	bin := Path(t, "registry")
	port := FreePort(t)
	debugPort := FreePort(t)
	host := "127.0.0.1:" + strconv.Itoa(port)
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  inmemory: {}
  delete:
    enabled: true
http:
  addr: %s
  debug:
    addr: 127.0.0.1:%d
`, host, debugPort) + extraConfig
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", path)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	// OpenTelemetry exporters are on by default in distribution v3; keep the
	// registry offline.
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var err error
	if !proctest.Eventually(30*time.Second, 50*time.Millisecond, func() bool {
		var c net.Conn
		if c, err = net.DialTimeout("tcp", host, 200*time.Millisecond); err != nil {
			return false
		}
		c.Close()
		return true
	}) {
		t.Fatalf("registry did not listen on %s: %v\n%s", host, err, logs.String())
	}
	return host
}
