package kubee2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// hallmarkBin is the hallmark binary built once for the package.
var hallmarkBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	bin, cleanup, err := proctest.BuildHallmark("hallmark-kubee2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hallmarkBin = bin
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func moduleRoot() string { return proctest.ModuleRoot() }

// sandbox runs hallmark with its own HOME, key store and docker config.
type sandbox struct {
	t   *testing.T
	dir string
	// env is added to every process's environment (later entries win).
	env []string
}

func newSandbox(t *testing.T) *sandbox {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &sandbox{t: t, dir: dir}
}

func (s *sandbox) environ() []string {
	return append(proctest.HomeEnviron(s.dir, "kubee2e test passphrase"), s.env...)
}

// result of one hallmark run.
type result = proctest.Result

// run runs hallmark and returns what it did, whatever its exit code.
func (s *sandbox) run(args ...string) result {
	s.t.Helper()
	return s.runEnv(nil, args...)
}

// runEnv is run with more environment variables.
func (s *sandbox) runEnv(env []string, args ...string) result {
	s.t.Helper()
	return proctest.Run(s.t, append(s.environ(), env...), hallmarkBin, args...)
}

// hallmark runs hallmark and fails the test unless it exits 0.
func (s *sandbox) hallmark(args ...string) result {
	s.t.Helper()
	r := s.run(args...)
	if r.Code != 0 {
		s.t.Fatalf("hallmark %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// writeFile writes data under the sandbox and returns the path.
func (s *sandbox) writeFile(rel string, data []byte) string {
	s.t.Helper()
	p := filepath.Join(s.dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// pushImage pushes a small distinct image and returns its digest.
func pushImage(t *testing.T, host, repo, tag string) string {
	t.Helper()
	desc, err := devregistry.PushSampleImage(context.Background(), host, repo, tag, repo+":"+tag)
	if err != nil {
		t.Fatalf("push %s/%s:%s: %v", host, repo, tag, err)
	}
	return desc.Digest.String()
}

// trustPolicy is a trustpolicy.json trusting one CA trust store for every
// registry.
func trustPolicy(store string) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "1.0",
		"trustPolicies": []any{map[string]any{
			"name":                  "e2e",
			"registryScopes":        []string{"*"},
			"signatureVerification": map[string]any{"level": "strict"},
			"trustStores":           []string{store},
			"trustedIdentities":     []string{"*"},
		}},
	})
	return b
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer = proctest.LockedBuffer

// server is a running `hallmark serve`.
type server struct {
	url  string
	logs *lockedBuffer
	// stop interrupts the process (a graceful shutdown) and waits for it
	// to exit; later calls do nothing.
	stop   func()
	client *http.Client
	exited chan struct{}
}

// serve starts `hallmark serve` on a loopback port with the given
// arguments and waits until /readyz passes.
func (s *sandbox) serve(caPEM []byte, args ...string) *server {
	s.t.Helper()
	srv := s.start(caPEM, args...)
	srv.waitReady(s.t, 15*time.Second)
	return srv
}

// start starts `hallmark serve` on a loopback port with the given
// arguments and waits until it listens (/healthz passes), ready or not.
func (s *sandbox) start(caPEM []byte, args ...string) *server {
	t := s.t
	t.Helper()
	port := testpeers.FreePort(t)
	args = append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--reload-interval", "100ms"}, args...)
	cmd := exec.Command(hallmarkBin, args...)
	cmd.Env = s.environ()
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := sync.OnceFunc(func() { cmd.Process.Signal(os.Interrupt); <-exited })
	t.Cleanup(stop)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	srv := &server{url: fmt.Sprintf("https://127.0.0.1:%d", port), logs: logs, stop: stop, client: client, exited: exited}
	if !proctest.Eventually(15*time.Second, 50*time.Millisecond, func() bool {
		code, _ := srv.get("/healthz")
		return code == http.StatusOK
	}) {
		t.Fatalf("hallmark serve never listened:\n%s", logs)
	}
	return srv
}

// get returns the status code and body of a GET of path; 0 when the
// server does not answer.
func (srv *server) get(path string) (int, string) {
	resp, err := srv.client.Get(srv.url + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady waits until /readyz passes.
func (srv *server) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	var body string
	if !proctest.Eventually(within, 50*time.Millisecond, func() bool {
		var code int
		code, body = srv.get("/readyz")
		return code == http.StatusOK
	}) {
		t.Fatalf("hallmark serve never became ready: %s\n%s", body, srv.logs)
	}
}

// running reports whether the process has not exited.
func (srv *server) running() bool {
	select {
	case <-srv.exited:
		return false
	default:
		return true
	}
}

// waitForLog waits until the server has logged msg at least n times.
func (srv *server) waitForLog(t *testing.T, msg string, n int) {
	t.Helper()
	if !proctest.Eventually(30*time.Second, 50*time.Millisecond, func() bool { return strings.Count(srv.logs.String(), msg) >= n }) {
		t.Fatalf("hallmark serve did not log %q %d times:\n%s", msg, n, srv.logs)
	}
}
