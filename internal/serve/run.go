package serve

import (
	"context"
	"time"

	"github.com/hallmark-dev/hallmark/internal/server"
)

// auditStopGrace is how long Run waits, once serving stops, for the
// periodic audit to release its Lease, so that another replica takes over
// at once rather than after the Lease expires.
const auditStopGrace = 5 * time.Second

// NewServer returns the HTTPS server of the runtime: the listen address
// (or Options.Addr) and TLS files of the configuration in force, the
// admission routes, the metrics and readiness. The server reloads its
// certificate files itself; a new generation does not move the listener.
func (r *Runtime) NewServer() (*server.Server, error) {
	cfg := r.Config()
	addr := cfg.Listen
	if r.opts.Addr != "" {
		addr = r.opts.Addr
	}
	return server.New(server.Options{
		Addr:               addr,
		CertFile:           cfg.TLS.CertFile,
		KeyFile:            cfg.TLS.KeyFile,
		ClientCAFile:       cfg.TLS.ClientCAFile,
		CertReloadInterval: r.opts.CertReloadInterval,
		Handler:            r.Handler(),
		Registry:           r.reg,
		Logger:             r.log,
		Ready:              r.Ready,
	})
}

// Run is `hallmark serve`: it starts the runtime on src, serves it until
// ctx is done and, when a is not nil, runs the periodic audit alongside.
func Run(ctx context.Context, src Source, opts Options, a *Audit) error {
	r, err := Start(ctx, src, opts)
	if err != nil {
		return err
	}
	srv, err := r.NewServer()
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
