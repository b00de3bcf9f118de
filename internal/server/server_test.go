package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// testServer is a Server serving on 127.0.0.1:0 for one test.
type testServer struct {
	*Server
	url  string
	logs *syncBuffer

	cancel   context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
	stopped  bool
}

// startServer serves opts until the test ends; Serve must then return nil
// unless the test stopped the server itself and checked the error.
func startServer(t *testing.T, opts Options) *testServer {
	t.Helper()
	ts := &testServer{logs: &syncBuffer{}, done: make(chan error, 1)}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	ts.Server = s
	var ctx context.Context
	ctx, ts.cancel = context.WithCancel(context.Background())
	if err := s.Listen(ctx); err != nil {
		t.Fatalf("Listen() error = %v", err)
	}
	ts.url = "https://" + s.Addr()
	go func() { ts.done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		if ts.stopped {
			return // the test stopped it and judged the result
		}
		if err := ts.stop(); err != nil {
			t.Errorf("Serve() = %v, want nil after a clean shutdown", err)
		}
	})
	return ts
}

// stop cancels Serve's context and returns what Serve returned.
func (ts *testServer) stop() error {
	ts.stopOnce.Do(func() {
		ts.cancel()
		ts.stopErr = <-ts.done
		ts.stopped = true
	})
	return ts.stopErr
}

// newClient returns an HTTPS client trusting roots and presenting cert, if
// any.
func newClient(t *testing.T, roots *x509.CertPool, cert *tls.Certificate) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		// Present the certificate whatever CAs the server asks for;
		// with Certificates, crypto/tls would quietly send none when it
		// does not match, and the server's verification would go
		// untested.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// get returns the status and body of a GET, failing the test on a transport
// error.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	code, body, err := tryGet(c, url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return code, body
}

func tryGet(c *http.Client, url string) (int, string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// servedSerial opens a fresh TLS connection and returns the serial of the
// certificate the server presents.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	d := &tls.Dialer{Config: &tls.Config{RootCAs: roots}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// eventually polls cond until it holds, failing the test if it does not
// within a generous bound. It is for effects of the real clock (a reload
// poll); it never asserts how long they took.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// appMux is a stand-in for the admission routes.
func appMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /validate", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "validated")
	})
	mux.HandleFunc("GET /validate", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "validated")
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) {
		panic("handler bug")
	})
	mux.HandleFunc("/panic-after-write", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, strings.Repeat("partial ", 100))
		http.NewResponseController(w).Flush()
		panic("handler bug after writing")
	})
	return mux
}

func TestEndpoints(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair, Handler: appMux()})
	c := newClient(t, ca.pool(), nil)

	tests := []struct {
		path     string
		wantCode int
		wantBody string
	}{
		{PathHealthz, http.StatusOK, "ok\n"},
		{PathReadyz, http.StatusOK, "ok\n"},
		{"/validate", http.StatusOK, "validated"},
		{"/unknown", http.StatusNotFound, "404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			code, body := get(t, c, ts.url+tt.path)
			if code != tt.wantCode || body != tt.wantBody {
				t.Errorf("GET %s = %d %q, want %d %q", tt.path, code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestNoHandler(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair})
	c := newClient(t, ca.pool(), nil)
	if code, _ := get(t, c, ts.url+"/validate"); code != http.StatusNotFound {
		t.Errorf("GET /validate without a Handler = %d, want 404", code)
	}
	if code, _ := get(t, c, ts.url+PathHealthz); code != http.StatusOK {
		t.Errorf("GET /healthz without a Handler = %d, want 200", code)
	}
}

func TestReadyz(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	tests := []struct {
		name     string
		ready    func() error
		draining bool
		wantCode int
		wantBody string
	}{
		{"no readiness check", nil, false, http.StatusOK, "ok"},
		{"trust material loaded", func() error { return nil }, false, http.StatusOK, "ok"},
		{"trust material missing", func() error { return errors.New("trust store ca:prod not loaded") }, false, http.StatusServiceUnavailable, "not ready: trust store ca:prod not loaded"},
		{"shutting down", func() error { return nil }, true, http.StatusServiceUnavailable, "not ready: shutting down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, Options{Certificate: &leaf.pair, Ready: tt.ready})
			ts.draining.Store(tt.draining)
			code, body := get(t, newClient(t, ca.pool(), nil), ts.url+PathReadyz)
			if code != tt.wantCode || strings.TrimSpace(body) != tt.wantBody {
				t.Errorf("GET /readyz = %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
			// Liveness never depends on readiness.
			if code, _ := get(t, newClient(t, ca.pool(), nil), ts.url+PathHealthz); code != http.StatusOK {
				t.Errorf("GET /healthz = %d, want 200", code)
			}
		})
	}
}

func TestMetricsEndpoint(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("NewMetrics() error = %v", err)
	}
	ts := startServer(t, Options{Certificate: &leaf.pair, Registry: reg})

	m.ObserveRequest("validate", OutcomeDenied)
	m.ObserveDecision("audit", true, true)
	m.ObserveDecision("deny", false, true)
	m.ObserveDecision("deny", true, false)
	m.ObserveImage("verified", true, 300*time.Microsecond)
	m.ObserveImage("failed", false, 1200*time.Millisecond)
	m.ObserveCacheLookup(true)
	m.ObserveRegistryResponse("registry.example:5000", 429)
	m.ObserveRegistryResponse("registry.example:5000", 0)
	m.SetGeneration(7)
	m.ObserveReload(false)

	code, body := get(t, newClient(t, ca.pool(), nil), ts.url+PathMetrics)
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{
		`hallmark_admission_requests_total{endpoint="validate",outcome="denied"} 1`,
		`hallmark_admission_decisions_total{decision="allowed_with_warnings",mode="audit"} 1`,
		`hallmark_admission_decisions_total{decision="denied",mode="deny"} 1`,
		`hallmark_admission_decisions_total{decision="allowed",mode="deny"} 1`,
		`hallmark_image_verification_duration_seconds_bucket{cached="true",verdict="verified",le="0.0005"} 1`,
		`hallmark_image_verification_duration_seconds_bucket{cached="false",verdict="failed",le="1"} 0`,
		`hallmark_image_verification_duration_seconds_bucket{cached="false",verdict="failed",le="2.5"} 1`,
		`hallmark_verification_cache_lookups_total{result="hit"} 1`,
		`hallmark_verification_cache_lookups_total{result="miss"} 0`,
		`hallmark_registry_requests_total{code="429",host="registry.example:5000"} 1`,
		`hallmark_registry_requests_total{code="0",host="registry.example:5000"} 1`,
		`hallmark_config_generation 7`,
		`hallmark_config_reloads_total{result="failure"} 1`,
		`hallmark_config_reloads_total{result="success"} 0`,
		`go_goroutines `,
		`process_open_fds `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestNewMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatalf("NewMetrics() error = %v", err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("NewMetrics() on a registry that has them = nil error, want a registration error")
	}
	if _, err := NewMetrics(nil); err != nil {
		t.Errorf("NewMetrics(nil) error = %v", err)
	}
	// A nil *Metrics is a valid, silent hook.
	var m *Metrics
	m.ObserveRequest("validate", OutcomeAllowed)
	m.ObserveDecision("deny", true, false)
	m.ObserveImage("verified", false, time.Millisecond)
	m.ObserveCacheLookup(false)
	m.ObserveRegistryResponse("r.example", 200)
	m.SetGeneration(1)
	m.ObserveReload(true)
	m.ObserveAudit(1, 1, nil, time.Now())
	m.SetAuditLeader(true)
}

// TestMetricsDocumented keeps docs/metrics.md listing every metric the
// server registers.
func TestMetricsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		defer close(ch)
		for _, c := range []prometheus.Collector{reg} {
			c.Describe(ch)
		}
	}()
	n := 0
	for d := range ch {
		// Desc has no accessor for its name; its String form quotes it.
		_, rest, _ := strings.Cut(d.String(), `fqName: "`)
		name, _, _ := strings.Cut(rest, `"`)
		n++
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/metrics.md has no row for %s", name)
		}
	}
	if n < 10 {
		t.Fatalf("described %d metrics; the registry was not read", n)
	}
}

// TestAuditLeaderGauges: a replica that stops auditing stops reporting the
// last audit's results, so that only the auditor's are summed.
func TestAuditLeaderGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	count := func() (audit, leader int) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "hallmark_audit_objects", "hallmark_audit_images":
				audit += len(mf.GetMetric())
			case "hallmark_audit_leader":
				leader = int(mf.GetMetric()[0].GetGauge().GetValue())
			}
		}
		return audit, leader
	}
	m.SetAuditLeader(true)
	m.ObserveAudit(3, 1, map[string]int{"pass": 5, "fail": 1}, time.Now())
	if a, l := count(); a != 5 || l != 1 {
		t.Fatalf("while auditing: %d audit series, leader %d; want 5 and 1", a, l)
	}
	m.SetAuditLeader(false)
	if a, l := count(); a != 0 || l != 0 {
		t.Fatalf("after handing over: %d audit series, leader %d; want 0 and 0", a, l)
	}
}

func TestRegistryWithRuntimeCollectors(t *testing.T) {
	// A caller that already registered the runtime collectors keeps them.
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector())
	if _, err := New(Options{Certificate: &leaf.pair, Registry: reg}); err != nil {
		t.Errorf("New() with Go collector already registered: %v", err)
	}
}

func TestTLSVersions(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair})
	tests := []struct {
		name     string
		min, max uint16
		wantErr  bool
	}{
		{"TLS 1.0", tls.VersionTLS10, tls.VersionTLS10, true},
		{"TLS 1.1", tls.VersionTLS10, tls.VersionTLS11, true},
		{"TLS 1.2", tls.VersionTLS12, tls.VersionTLS12, false},
		{"TLS 1.3", tls.VersionTLS13, tls.VersionTLS13, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", ts.Addr(), &tls.Config{RootCAs: ca.pool(), MinVersion: tt.min, MaxVersion: tt.max})
			if err == nil {
				conn.Close()
			}
			if tt.wantErr {
				// The refusal must come from the server, not from
				// a client that could not offer the version.
				if err == nil || !strings.Contains(err.Error(), "remote error") {
					t.Errorf("handshake error = %v, want the server to refuse", err)
				}
			} else if err != nil {
				t.Errorf("handshake error = %v", err)
			}
		})
	}
}

func TestHTTP2(t *testing.T) {
	// The per-handshake config from the certificate watcher replaces the
	// one http.Server prepares; ALPN must still offer h2.
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair})
	conn, err := tls.Dial("tcp", ts.Addr(), &tls.Config{RootCAs: ca.pool(), NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().NegotiatedProtocol; got != "h2" {
		t.Errorf("negotiated protocol %q, want h2", got)
	}

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool()}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(ts.url + PathHealthz)
	if err != nil {
		t.Fatalf("GET /healthz over HTTP/2: %v", err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %s %d, want HTTP/2.0 200", resp.Proto, resp.StatusCode)
	}
}

func TestCertRotation(t *testing.T) {
	ca := newTestCA(t, "test CA")
	v1 := ca.issue(t, "server", 101, false)
	v2 := ca.issue(t, "server", 102, false)
	tests := []struct {
		name   string
		rotate func(t *testing.T, sd *secretDir)
	}{
		{"Secret symlink swap", func(_ *testing.T, sd *secretDir) {
			sd.update(map[string][]byte{"tls.crt": v2.certPEM, "tls.key": v2.keyPEM})
		}},
		{"files rewritten in place", func(t *testing.T, sd *secretDir) {
			writeFile(t, sd.path("tls.key"), v2.keyPEM)
			writeFile(t, sd.path("tls.crt"), v2.certPEM)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd := newSecretDir(t, map[string][]byte{"tls.crt": v1.certPEM, "tls.key": v1.keyPEM})
			ts := startServer(t, Options{
				CertFile:           sd.path("tls.crt"),
				KeyFile:            sd.path("tls.key"),
				CertReloadInterval: 10 * time.Millisecond,
			})
			if got := servedSerial(t, ts.Addr(), ca.pool()); got != 101 {
				t.Fatalf("served serial %d, want 101", got)
			}
			tt.rotate(t, sd)
			eventually(t, "the rotated certificate to be served", func() bool {
				return servedSerial(t, ts.Addr(), ca.pool()) == 102
			})
			eventually(t, "the reload to be logged", func() bool {
				return strings.Contains(ts.logs.String(), "TLS material reloaded")
			})
		})
	}
}

func TestCertReloadFailureKeepsServing(t *testing.T) {
	ca := newTestCA(t, "test CA")
	v1 := ca.issue(t, "server", 101, false)
	v2 := ca.issue(t, "server", 102, false)
	sd := newSecretDir(t, map[string][]byte{"tls.crt": v1.certPEM, "tls.key": v1.keyPEM})
	ts := startServer(t, Options{
		CertFile:           sd.path("tls.crt"),
		KeyFile:            sd.path("tls.key"),
		CertReloadInterval: 10 * time.Millisecond,
	})
	c := newClient(t, ca.pool(), nil)

	sd.update(map[string][]byte{"tls.crt": []byte("-----BEGIN CERTIFICATE-----\nbroken"), "tls.key": v2.keyPEM})
	eventually(t, "the failed reload to be logged", func() bool {
		return strings.Contains(ts.logs.String(), "TLS material not reloaded")
	})
	if got := servedSerial(t, ts.Addr(), ca.pool()); got != 101 {
		t.Errorf("served serial %d after a broken rotation, want 101", got)
	}
	if code, _ := get(t, c, ts.url+PathReadyz); code != http.StatusOK {
		t.Errorf("GET /readyz after a broken rotation = %d, want 200: the old certificate still serves", code)
	}

	// The repaired rotation is picked up.
	sd.update(map[string][]byte{"tls.crt": v2.certPEM, "tls.key": v2.keyPEM})
	eventually(t, "the repaired certificate to be served", func() bool {
		return servedSerial(t, ts.Addr(), ca.pool()) == 102
	})
}

func TestMutualTLS(t *testing.T) {
	serverCA := newTestCA(t, "server CA")
	leaf := serverCA.issue(t, "server", 2, false)
	clientCA := newTestCA(t, "client CA")
	gatekeeper := clientCA.issue(t, "gatekeeper-webhook-service.gatekeeper-system.svc", 3, true)
	strangerCA := newTestCA(t, "stranger CA")
	stranger := strangerCA.issue(t, "stranger", 4, true)

	sd := newSecretDir(t, map[string][]byte{"ca.crt": clientCA.pem})
	ts := startServer(t, Options{
		Certificate:        &leaf.pair,
		Handler:            appMux(),
		ClientCAFile:       sd.path("ca.crt"),
		CertReloadInterval: 10 * time.Millisecond,
	})

	tests := []struct {
		name     string
		cert     *tls.Certificate
		path     string
		wantCode int // 0: the handshake fails
	}{
		{"no client certificate", nil, "/validate", http.StatusForbidden},
		{"no client certificate, metrics", nil, PathMetrics, http.StatusForbidden},
		{"no client certificate, liveness probe", nil, PathHealthz, http.StatusOK},
		{"no client certificate, readiness probe", nil, PathReadyz, http.StatusOK},
		{"certificate from the client CA", &gatekeeper.pair, "/validate", http.StatusOK},
		{"certificate from the client CA, metrics", &gatekeeper.pair, PathMetrics, http.StatusOK},
		{"certificate from another CA", &stranger.pair, "/validate", 0},
		{"certificate from another CA, liveness probe", &stranger.pair, PathHealthz, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, err := tryGet(newClient(t, serverCA.pool(), tt.cert), ts.url+tt.path)
			if tt.wantCode == 0 {
				if err == nil {
					t.Errorf("GET %s = %d, want the handshake refused", tt.path, code)
				}
				return
			}
			if err != nil || code != tt.wantCode {
				t.Errorf("GET %s = %d, %v; want %d", tt.path, code, err, tt.wantCode)
			}
		})
	}

	t.Run("client CA rotated", func(t *testing.T) {
		// Swap in the other CA: its clients get in, the old CA's do not.
		sd.update(map[string][]byte{"ca.crt": strangerCA.pem})
		eventually(t, "the new client CA to be trusted", func() bool {
			code, _, err := tryGet(newClient(t, serverCA.pool(), &stranger.pair), ts.url+"/validate")
			return err == nil && code == http.StatusOK
		})
		if _, _, err := tryGet(newClient(t, serverCA.pool(), &gatekeeper.pair), ts.url+"/validate"); err == nil {
			t.Error("a client of the replaced CA is still accepted")
		}
	})
}

func TestPanicRecovery(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair, Handler: appMux()})
	tests := []struct {
		name     string
		path     string
		wantCode int // 0: the response is cut off
		wantLog  string
	}{
		{"panic before writing", "/panic", http.StatusInternalServerError, "handler bug"},
		{"panic after writing part of the body", "/panic-after-write", 0, "handler bug after writing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, ca.pool(), nil)
			code, body, err := tryGet(c, ts.url+tt.path)
			if tt.wantCode == 0 {
				if err == nil {
					t.Errorf("GET %s = %d with a complete body of %d bytes, want the response cut off", tt.path, code, len(body))
				}
			} else if err != nil || code != tt.wantCode {
				t.Errorf("GET %s = %d, %v; want %d", tt.path, code, err, tt.wantCode)
			}
			logs := ts.logs.String()
			if !strings.Contains(logs, "handler panicked") || !strings.Contains(logs, tt.wantLog) {
				t.Errorf("logs lack the panic %q:\n%s", tt.wantLog, logs)
			}
			// The server keeps serving, on a new connection and on the
			// client's pooled one.
			for range 2 {
				if code, _ := get(t, c, ts.url+"/validate"); code != http.StatusOK {
					t.Errorf("GET /validate after a panic = %d, want 200", code)
				}
			}
		})
	}
}

func TestRequestLog(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair, Handler: appMux()})
	req, err := http.NewRequest(http.MethodPost, ts.url+"/validate?token=query-secret", strings.NewReader(`{"password":"body-secret"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer header-secret")
	resp, err := newClient(t, ca.pool(), nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	logs := ts.logs.String()
	for _, want := range []string{"msg=request", "method=POST", "path=/validate", "status=200"} {
		if !strings.Contains(logs, want) {
			t.Errorf("request log lacks %q:\n%s", want, logs)
		}
	}
	for _, secret := range []string{"query-secret", "body-secret", "header-secret"} {
		if strings.Contains(logs, secret) {
			t.Errorf("request log contains %q:\n%s", secret, logs)
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		// The request context outlives the server's: in-flight work
		// finishes under its own deadline.
		if err := r.Context().Err(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "done")
	})
	ts := startServer(t, Options{Certificate: &leaf.pair, Handler: mux})
	c := newClient(t, ca.pool(), nil)

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, body, err := tryGet(c, ts.url+"/slow")
		res <- result{code, body, err}
	}()
	<-entered
	ts.cancel()

	eventually(t, "the listener to close", func() bool {
		conn, err := net.Dial("tcp", ts.Addr())
		if err == nil {
			conn.Close()
		}
		return err != nil
	})
	select {
	case err := <-ts.done:
		t.Fatalf("Serve() = %v while a request was in flight", err)
	default:
	}
	close(release)
	if r := <-res; r.err != nil || r.code != http.StatusOK || r.body != "done" {
		t.Errorf("in-flight request = %d %q, %v; want 200 \"done\"", r.code, r.body, r.err)
	}
	if err := ts.stop(); err != nil {
		t.Errorf("Serve() = %v, want nil", err)
	}
}

func TestShutdownTimeout(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/stuck", func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	ts := startServer(t, Options{Certificate: &leaf.pair, Handler: mux, ShutdownTimeout: 50 * time.Millisecond})
	go tryGet(newClient(t, ca.pool(), nil), ts.url+"/stuck")
	<-entered
	if err := ts.stop(); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Serve() = %v, want a shutdown timeout", err)
	}
}

func TestServeOnce(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair})
	if err := ts.Listen(t.Context()); !errors.Is(err, ErrServerStarted) {
		t.Errorf("second Listen() = %v, want ErrServerStarted", err)
	}
	// Once the first Serve answers, a second one must refuse.
	if code, _ := get(t, newClient(t, ca.pool(), nil), ts.url+PathHealthz); code != http.StatusOK {
		t.Fatalf("GET /healthz = %d", code)
	}
	if err := ts.Serve(t.Context()); !errors.Is(err, ErrServerStarted) {
		t.Errorf("second Serve() = %v, want ErrServerStarted", err)
	}
}

func TestServeWithoutListen(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	s, err := New(Options{Addr: "127.0.0.1:0", Certificate: &leaf.pair})
	if err != nil {
		t.Fatal(err)
	}
	if s.Addr() != "" {
		t.Errorf("Addr() before listening = %q, want empty", s.Addr())
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	eventually(t, "Serve to listen", func() bool { return s.Addr() != "" })
	if code, _ := get(t, newClient(t, ca.pool(), nil), "https://"+s.Addr()+PathHealthz); code != http.StatusOK {
		t.Errorf("GET /healthz = %d", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve() = %v", err)
	}
}

func TestServeErrors(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		opts Options
		want error // nil: any error from Serve
	}{
		{"no certificate", Options{}, ErrInvalidOptions},
		{"address in use", Options{Addr: busy.Addr().String(), Certificate: &leaf.pair}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(tt.opts)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("New() error = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			if err := s.Serve(t.Context()); err == nil {
				t.Error("Serve() = nil, want a listen error")
			}
		})
	}
}
