// Package proctest runs the hallmark binary and its peers as processes in
// the end-to-end suites (internal/interop, internal/kubee2e): it builds the
// binary once per test package, runs commands in a sandboxed environment
// and collects their output; Eventually is the one way those suites and
// testpeers wait for a process or a cluster to reach a state. It is
// imported by tests and test peers only.
package proctest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ModuleRoot is the folder of hallmark's go.mod.
func ModuleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// BuildHallmark builds cmd/hallmark into a new temporary folder and returns
// the binary's path and a function that removes the folder. prefix names
// the folder.
func BuildHallmark(prefix string) (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "hallmark")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hallmark")
	cmd.Dir = ModuleRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building hallmark: %v\n%s", err, out)
	}
	return bin, func() { os.RemoveAll(dir) }, nil
}

// Environ is the test process's environment without the variables in
// drop, followed by add. Sandboxes use it so that the developer's HOME,
// key store, registry credentials and kubeconfig never leak into a test.
func Environ(drop []string, add ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !contains(drop, name) {
			out = append(out, kv)
		}
	}
	return append(out, add...)
}

// HomeEnviron is a sandbox rooted at dir: HOME and the XDG folders under
// dir/home, hallmark's key store at dir/store with passphrase, docker
// configuration at dir/docker, and no inherited kubeconfig or notation
// configuration.
func HomeEnviron(dir, passphrase string, add ...string) []string {
	drop := []string{"HOME", "HALLMARK_HOME", "HALLMARK_PASSPHRASE", "DOCKER_CONFIG", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "KUBECONFIG", "NOTATION_CONFIG"}
	return Environ(drop, append([]string{
		"HOME=" + filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "home", ".config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "home", ".cache"),
		"HALLMARK_HOME=" + filepath.Join(dir, "store"),
		"HALLMARK_PASSPHRASE=" + passphrase,
		"DOCKER_CONFIG=" + filepath.Join(dir, "docker"),
	}, add...)...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Result is what one process run did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs bin with args in env for at most two minutes and returns what it
// did, whatever its exit code; it fails t only when the process could not
// run at all.
func Run(t testing.TB, env []string, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run %s %v: %v", bin, args, err)
		}
		r.Code = ee.ExitCode()
	}
	return r
}

// LockedBuffer collects a running process's output while a test reads it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
