// Package server serves hallmark's HTTPS endpoints: the admission webhook and
// Gatekeeper provider handlers that the caller supplies, plus /healthz,
// /readyz and /metrics, on one listener.
//
// It owns the transport concerns and nothing else: TLS 1.2+ with certificates
// and client CAs reloaded from disk as they rotate (CertWatcher), optional
// mutual TLS, timeouts and header limits, panic recovery, request logging,
// Prometheus metrics on a registry of its own (Metrics), and a graceful
// shutdown that lets in-flight admission requests finish. It also provides
// WatchFiles, the polling file watcher the CLI uses to reload its
// configuration. What a request means is decided by the handlers in
// internal/admission.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults applied by New to zero Options fields.
const (
	// DefaultAddr is the listen address: the port conventionally used by
	// webhook servers, unprivileged so the pod can run as non-root.
	DefaultAddr = ":8443"

	// DefaultReadHeaderTimeout bounds how long a client may take to send
	// its headers, so slow or idle connections cannot pin goroutines.
	DefaultReadHeaderTimeout = 10 * time.Second

	// DefaultReadTimeout bounds reading a whole request. Admission bodies
	// are at most a few MiB and arrive from the API server on a fast
	// network.
	DefaultReadTimeout = 30 * time.Second

	// DefaultWriteTimeout bounds a whole exchange. It exceeds Kubernetes'
	// largest webhook timeout (30 s) so that a handler honouring its
	// admission deadline is never cut off by the transport first.
	DefaultWriteTimeout = 40 * time.Second

	// DefaultIdleTimeout matches http.DefaultTransport's keep-alive timeout,
	// so the API server's pooled connections are reused, not raced.
	DefaultIdleTimeout = 90 * time.Second

	// DefaultMaxHeaderBytes caps request headers. The API server and
	// Gatekeeper send a handful of short headers; 64 KiB leaves room for
	// large tokens while keeping a header flood cheap to refuse.
	DefaultMaxHeaderBytes = 64 << 10

	// DefaultShutdownTimeout bounds draining in-flight requests. It stays
	// under Kubernetes' default 30 s termination grace period, so the
	// process exits on its own terms before it is killed.
	DefaultShutdownTimeout = 25 * time.Second
)

// Paths the server serves itself. Handler never sees them.
const (
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathMetrics = "/metrics"
)

// Options configures a Server. The serving certificate comes either from
// CertFile and KeyFile or from Certificate.
type Options struct {
	// Addr is the TCP address to listen on, such as ":8443" or
	// "127.0.0.1:0". Empty means DefaultAddr.
	Addr string

	// CertFile and KeyFile are the PEM serving certificate (with any
	// intermediates) and its key. They are reloaded when their content
	// changes; a change that cannot be used is logged and the previous
	// certificate kept. Both empty when Certificate is set.
	CertFile string
	KeyFile  string

	// Certificate, if non-nil, is served as is, for the demo and tests.
	Certificate *tls.Certificate

	// ClientCAFile, if set, turns on mutual TLS: a PEM bundle of the CAs a
	// client certificate must chain to (for Gatekeeper, the CA of its
	// webhook certificate), reloaded like CertFile. Every path except
	// /healthz and /readyz then requires a verified client certificate:
	// kubelet probes present none, and a listener that demanded one in the
	// handshake could never be probed. A certificate that is presented but
	// does not verify fails the handshake. Empty means no client
	// certificates.
	ClientCAFile string

	// CertReloadInterval is how often the certificate and client CA files
	// are checked for changes. Zero means DefaultReloadInterval.
	CertReloadInterval time.Duration

	// Handler serves every path except /healthz, /readyz and /metrics;
	// typically a *http.ServeMux holding the admission routes. Nil means
	// those paths answer 404.
	Handler http.Handler

	// Registry is the Prometheus registry served at /metrics; register
	// Metrics (NewMetrics) with the same one. Go runtime and process
	// collectors are added to it unless already present. Nil means a fresh
	// registry; never the global default one, which any imported package
	// may write to.
	Registry *prometheus.Registry

	// Logger receives the server's records: startup, shutdown, certificate
	// reloads, recovered panics (error level) and one record per request
	// (debug level; method, path, status, size and duration, never headers
	// or bodies). Nil means discard.
	Logger *slog.Logger

	// Ready reports whether the process can answer admission requests
	// (its trust material is loaded); /readyz answers 503 with the error's
	// text while it returns non-nil. /readyz is open to any caller, even
	// with mutual TLS, so the text must be safe to show to anyone: say
	// which trust store is missing, never quote credentials or file
	// content. Nil means ready once serving.
	Ready func() error

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are
	// the http.Server timeouts. Zero means the matching Default constant.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration

	// MaxHeaderBytes caps request header size. Zero means
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	// ShutdownTimeout bounds how long Serve waits for in-flight requests
	// once its context is done. Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// DrainDelay is how long Serve keeps serving, with /readyz answering
	// 503, after its context is done and before it stops accepting
	// connections. In Kubernetes a few seconds lets the endpoint be removed
	// before the listener closes, so the API server's calls during a
	// rolling update are answered rather than refused (which, with
	// failurePolicy Fail, would deny pods). Zero means no delay.
	DrainDelay time.Duration
}

// setDefaults fills the zero fields of o; it is the one place defaults live.
func (o *Options) setDefaults() {
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	if o.CertReloadInterval <= 0 {
		o.CertReloadInterval = DefaultReloadInterval
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
}

// Server is hallmark's HTTPS server. Create it with New, optionally call
// Listen to learn the bound address, then Serve. A Server runs once.
type Server struct {
	opts  Options
	log   *slog.Logger
	certs *CertWatcher
	http  *http.Server

	// draining turns readiness off once shutdown has begun.
	draining atomic.Bool

	mu      sync.Mutex
	ln      net.Listener
	started bool // Serve has been called
}

// New checks opts, loads the TLS material and builds the server. It does not
// listen yet. It fails if the certificate, key or client CA bundle cannot be
// used.
func New(opts Options) (*Server, error) {
	opts.setDefaults()
	s := &Server{opts: opts, log: opts.Logger}
	var err error
	s.certs, err = NewCertWatcher(CertWatcherOptions{
		CertFile:     opts.CertFile,
		KeyFile:      opts.KeyFile,
		Certificate:  opts.Certificate,
		ClientCAFile: opts.ClientCAFile,
		// Verified if presented; required per path by requireClientCert,
		// so that probes can reach /healthz and /readyz.
		ClientAuth: tls.VerifyClientCertIfGiven,
		Interval:   opts.CertReloadInterval,
		OnReload:   s.logCertReload,
	})
	if err != nil {
		return nil, err
	}
	if err := registerRuntimeCollectors(opts.Registry); err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           s.handler(),
		TLSConfig:         s.certs.TLSConfig(),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		// Handshake failures (scanners, TCP probes, clients refused for
		// an old TLS version) are routine and only worth seeing when
		// debugging.
		ErrorLog: slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// registerRuntimeCollectors adds the Go runtime and process collectors to
// reg, tolerating a caller that registered them already.
func registerRuntimeCollectors(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
				return fmt.Errorf("register runtime metrics: %w", err)
			}
		}
	}
	return nil
}

// handler assembles the routes and middleware. Logging is outermost so that
// it records the 500 written by panic recovery.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(PathHealthz, s.healthz)
	mux.HandleFunc(PathReadyz, s.readyz)
	mux.Handle(PathMetrics, promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		// A failing collector must not hide every other metric.
		ErrorHandling: promhttp.ContinueOnError,
	}))
	if s.opts.Handler != nil {
		mux.Handle("/", s.opts.Handler)
	}
	var h http.Handler = mux
	if s.opts.ClientCAFile != "" {
		h = requireClientCert(h, PathHealthz, PathReadyz)
	}
	h = recoverPanics(h, s.log)
	h = logRequests(h, s.log)
	// Outermost, so every answer (a refused client certificate's too) is
	// drained, and the request is logged before the answer is flushed.
	return drainBodies(h)
}

// Listen binds the listening socket. Calling it before Serve lets a caller
// (a test on port 0, the demo) learn the address from Addr before serving;
// Serve calls it when it has not been called.
func (s *Server) Listen(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil || s.started {
		return ErrServerStarted
	}
	return s.listenLocked(ctx)
}

// listenLocked binds the socket; s.mu is held.
func (s *Server) listenLocked(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.opts.Addr, err)
	}
	s.ln = ln
	return nil
}

// Addr returns the address the server listens on, such as
// "127.0.0.1:43817", or "" before Listen.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Serve serves HTTPS until ctx is done, then shuts down gracefully: readiness
// turns off, and after DrainDelay the listener closes and in-flight requests
// get up to ShutdownTimeout to finish. It returns nil after a clean shutdown,
// and an error if the server could not listen or serve, or if requests were
// still running when the shutdown timeout expired (they are then cut off).
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return ErrServerStarted
	}
	s.started = true
	if s.ln == nil {
		if err := s.listenLocked(ctx); err != nil {
			s.mu.Unlock()
			return err
		}
	}
	ln := s.ln
	s.mu.Unlock()

	var wg sync.WaitGroup
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer func() {
		stopWatch()
		wg.Wait()
	}()
	wg.Go(func() { s.certs.Run(watchCtx) })

	// Request contexts keep ctx's values but not its cancellation: when
	// ctx is done, in-flight admission requests should finish within their
	// own deadlines rather than all fail at once.
	s.http.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }

	leaf := s.certs.current().cert.Leaf
	s.log.Info("serving",
		"addr", ln.Addr().String(),
		"mtls", s.opts.ClientCAFile != "",
		"certSerial", leaf.SerialNumber.String(),
		"certNotAfter", leaf.NotAfter)

	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}

	s.draining.Store(true)
	if d := s.opts.DrainDelay; d > 0 {
		s.log.Info("shutting down: readiness off, still serving", "drainDelay", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
		}
	}
	s.log.Info("shutting down: waiting for in-flight requests", "timeout", s.opts.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(sctx)
	<-errc // http.ErrServerClosed, returned as soon as Shutdown begins
	if err != nil {
		_ = s.http.Close()
		return fmt.Errorf("graceful shutdown: requests still running after %s: %w", s.opts.ShutdownTimeout, err)
	}
	s.log.Info("stopped")
	return nil
}

// logCertReload reports the outcome of a certificate or client CA reload.
func (s *Server) logCertReload(err error) {
	if err != nil {
		s.log.Error("TLS material not reloaded; still serving the previous certificate and client CAs", "err", err)
		return
	}
	leaf := s.certs.current().cert.Leaf
	s.log.Info("TLS material reloaded",
		"certSerial", leaf.SerialNumber.String(),
		"certSubject", leaf.Subject.String(),
		"certNotAfter", leaf.NotAfter)
}

// healthz answers 200 while the process serves: liveness, nothing more, so a
// registry outage never gets the pod restarted.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers 200 when the process can answer admission requests, and 503
// with the reason when it cannot or is shutting down.
func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		http.Error(w, "not ready: shutting down", http.StatusServiceUnavailable)
		return
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
