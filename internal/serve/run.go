package serve

import (
	"context"
	"crypto/tls"
	"time"

	"github.com/hallmark-dev/hallmark/internal/server"
)

// auditStopGrace is how long Run waits, once serving stops, for the
// periodic audit to release its Lease, so that another replica takes over
// at once rather than after the Lease expires.
const auditStopGrace = 5 * time.Second

// NewServer returns the HTTPS server of the runtime: the listen address and
// TLS files of the configuration in force (or certificate, when not nil,
// in their place), the admission routes, the metrics and readiness.
func (r *Runtime) NewServer(certificate *tls.Certificate) (*server.Server, error) {
	cfg := r.Config()
	opts := server.Options{
		Addr:               cfg.Listen,
		CertReloadInterval: r.opts.CertReloadInterval,
		Handler:            r.Handler(),
		Registry:           r.reg,
		Logger:             r.log,
		Ready:              r.Ready,
	}
	if certificate != nil {
		opts.Certificate = certificate
	} else {
		opts.CertFile, opts.KeyFile, opts.ClientCAFile = cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ClientCAFile
	}
	return server.New(opts)
}

// Run is `hallmark serve`: it starts the runtime on src, serves it until
// ctx is done and, when a is not nil, runs the periodic audit alongside.
func Run(ctx context.Context, src Source, opts Options, a *Audit) error {
	r, err := Start(ctx, src, opts)
	if err != nil {
		return err
	}
	srv, err := r.NewServer(nil)
	if err != nil {
		return err
	}
	if err := srv.Listen(ctx); err != nil {
		return err
	}
	r.log.Info("hallmark serving", "addr", srv.Addr(), "mode", string(r.Config().Mode), "generation", r.Generation())
	audited := make(chan struct{})
	if a != nil {
		go func() {
			defer close(audited)
			r.RunAudit(ctx, *a)
		}()
	} else {
		close(audited)
	}
	err = srv.Serve(ctx)
	select {
	case <-audited:
	case <-time.After(auditStopGrace):
	}
	return err
}
