// Package devregistry runs hallmark's embedded OCI registry: an in-memory
// registry (go-containerregistry's pkg/registry) served over plain HTTP on a
// loopback address. It backs the quickstart and the tests, so that signing,
// listing and verifying can run without a network or a real registry.
//
// It can run with or without the OCI 1.1 referrers API, because hallmark must
// work against both kinds of registry: with the API, referrers are listed by
// the registry; without it, clients maintain the referrers tag schema
// (an index tagged sha256-<hex>). With the API on, the registry also answers
// the parts of the distribution spec that go-containerregistry leaves out
// (see conformance.go), so clients see what an OCI 1.1 registry would send.
//
// It is not for production: everything lives in memory and there is no
// authentication, which is why it refuses to listen anywhere but loopback.
package devregistry

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// defaultAddr listens on an ephemeral loopback port, so parallel tests and a
// quickstart next to a real registry on :5000 never collide.
const defaultAddr = "127.0.0.1:0"

// readHeaderTimeout bounds how long a client may take to send request headers;
// without it a stalled client would hold a connection open forever.
const readHeaderTimeout = 10 * time.Second

// Options configures Start. The zero value is a registry without the referrers
// API on an ephemeral loopback port that logs nothing.
type Options struct {
	// Referrers turns on the OCI 1.1 referrers API
	// (GET /v2/<name>/referrers/<digest>). If false, that endpoint answers 404
	// and clients fall back to the referrers tag schema.
	Referrers bool

	// Addr is the host:port to listen on. The host must be a loopback IP or
	// "localhost". If empty, 127.0.0.1:0 (an ephemeral port) is used.
	Addr string

	// Logger receives one record per request. If nil, nothing is logged.
	Logger *slog.Logger
}

// Registry is a running embedded registry. Its methods are safe for
// concurrent use.
type Registry struct {
	srv       *http.Server
	host      string
	stop      func() bool // detaches Close from the Start context
	closeOnce sync.Once
	closeErr  error
}

// Start listens on opts.Addr and serves the registry until Close is called or
// ctx is done. It returns once the listener is open, so the registry accepts
// requests as soon as Start returns.
func Start(ctx context.Context, opts Options) (*Registry, error) {
	addr := opts.Addr
	if addr == "" {
		addr = defaultAddr
	}
	if err := checkLoopback(addr); err != nil {
		return nil, err
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dev registry: listen on %s: %w", addr, err)
	}

	reqLog := log.New(io.Discard, "", 0)
	if opts.Logger != nil {
		reqLog = slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug)
	}
	handler := newHandler(opts.Referrers, reqLog)

	r := &Registry{
		srv: &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: readHeaderTimeout,
			ErrorLog:          reqLog,
		},
		host: ln.Addr().String(),
	}
	r.stop = context.AfterFunc(ctx, func() { _ = r.shutdown() })
	go func() {
		// Serve returns http.ErrServerClosed after Close; any other error
		// means the listener broke, and requests will fail loudly anyway.
		_ = r.srv.Serve(ln)
	}()
	return r, nil
}

// newHandler builds the registry handler: go-containerregistry's registry,
// plus the conformance layer when the referrers API is on.
func newHandler(referrers bool, reqLog *log.Logger) http.Handler {
	h := registry.New(registry.WithReferrersSupport(referrers), registry.Logger(reqLog))
	if referrers {
		return &conformance{next: h}
	}
	return h
}

// Host returns the registry's host:port, e.g. "127.0.0.1:40123", ready to
// prefix a repository: Host()+"/app:v1".
func (r *Registry) Host() string { return r.host }

// Close stops the registry at once and drops all of its content. It is safe
// to call more than once.
func (r *Registry) Close() error {
	r.stop()
	return r.shutdown()
}

func (r *Registry) shutdown() error {
	r.closeOnce.Do(func() { r.closeErr = r.srv.Close() })
	return r.closeErr
}

// checkLoopback refuses any address that is not loopback: the registry has no
// authentication, so anything reachable from another machine could be
// overwritten by anyone on the network.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dev registry: address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("dev registry: address %q: %w", addr, ErrNotLoopback)
}
