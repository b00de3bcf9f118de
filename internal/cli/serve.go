package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/admission/webhook"
	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/server"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

type serveOptions struct {
	configFile  string
	listen      string
	certFile    string
	keyFile     string
	clientCA    string
	trustPolicy string
	trustStore  string
	plainHTTP   bool
	mode        string
	logLevel    string
	reload      time.Duration
	// periodic audit of running workloads
	auditInterval time.Duration
	kubeconfig    string
	auditEvents   bool
	auditLease    string
}

func newServeCmd(g *globalOptions) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission server: Kubernetes webhook and Ratify-compatible Gatekeeper provider",
		Long: `Run hallmark's admission server on one HTTPS listener:

  POST /validate                        AdmissionReview (v1, v1beta1): allow or deny pods and workloads
  POST /mutate                          AdmissionReview: pin image tags to the digests verified
  POST /ratify/gatekeeper/v1/verify     Gatekeeper external data, Ratify's wire format
  POST /ratify/gatekeeper/v1/mutate     Gatekeeper external data mutation, Ratify's wire format
  GET  /healthz, /readyz, /metrics      liveness, readiness (trust material loaded), Prometheus

Flags serve the simple case; --config FILE (YAML, see 'hallmark config example')
holds everything, and flags given with it override its fields. The server
watches the config and trust policy files and reloads them on change; a new
configuration that does not validate is logged and rejected, and the old one
stays in force. Serving certificates are reloaded the same way.

In deny mode (the default) anything that is not a positive verification is
denied, including registry failures and images not verified within the
deadline. --mode audit admits them with warnings and audit annotations.`,
		Example: `  hallmark serve --tls-cert-file tls.crt --tls-key-file tls.key --trust-policy trustpolicy.json --trust-store truststore
  hallmark serve --config /etc/hallmark/config.yaml`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.configFile, "config", "", "configuration file (YAML); see 'hallmark config example'")
	f.StringVar(&o.listen, "listen", "", `HTTPS listen address (default ":8443")`)
	f.StringVar(&o.certFile, "tls-cert-file", "", "PEM serving certificate (reloaded on change)")
	f.StringVar(&o.keyFile, "tls-key-file", "", "PEM serving key (reloaded on change)")
	f.StringVar(&o.clientCA, "client-ca-file", "", "PEM CA bundle; when set, clients must present a certificate it issued (mTLS)")
	f.StringVar(&o.trustPolicy, "trust-policy", "", "trust policy file (notation trustpolicy.json)")
	f.StringVar(&o.trustStore, "trust-store", "", "trust store folder in notation's layout")
	f.BoolVar(&o.plainHTTP, "plain-http", false, "reach every registry over plain HTTP (loopback development registries only)")
	f.StringVar(&o.mode, "mode", "", `admission mode: "deny" (default; fail closed) or "audit" (allow with warnings)`)
	f.StringVar(&o.logLevel, "log-level", "info", `log level: "debug", "info", "warn" or "error" (JSON records on standard error)`)
	f.DurationVar(&o.reload, "reload-interval", 2*time.Second, "how often configuration and certificate files are checked for changes")
	f.DurationVar(&o.auditInterval, "audit-interval", 0, "audit the cluster's running pods and workloads this often (e.g. 10m), exporting hallmark_audit_* metrics; 0 turns it off")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig for --audit-interval (default $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	f.BoolVar(&o.auditEvents, "audit-events", true, "with --audit-interval, post a Warning Event (reason ImageNotVerified) on each object with an image that does not verify")
	f.StringVar(&o.auditLease, "audit-lease", "", "with --audit-interval, audit only while this replica holds the coordination.k8s.io Lease NAMESPACE/NAME, so that one replica of several audits")
	return cmd
}

// loadConfig reads --config (if any) and lays the flags over it.
func (o *serveOptions) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	var cfg *config.Config
	if o.configFile != "" {
		c, err := config.Load(o.configFile)
		if err != nil {
			return nil, err
		}
		cfg = c
	} else {
		cfg = config.Default()
	}
	fl := cmd.Flags()
	if fl.Changed("listen") {
		cfg.Listen = o.listen
	}
	if fl.Changed("tls-cert-file") {
		cfg.TLS.CertFile = o.certFile
	}
	if fl.Changed("tls-key-file") {
		cfg.TLS.KeyFile = o.keyFile
	}
	if fl.Changed("client-ca-file") {
		cfg.TLS.ClientCAFile = o.clientCA
	}
	if fl.Changed("trust-policy") {
		cfg.TrustPolicy = config.TrustPolicy{File: o.trustPolicy}
	}
	if fl.Changed("trust-store") {
		cfg.TrustStoreDir = o.trustStore
	}
	if fl.Changed("mode") {
		cfg.Mode = config.Mode(o.mode)
	}
	if o.plainHTTP {
		cfg.Registries = append([]config.Registry{{Hosts: []string{"*"}, PlainHTTP: true}}, cfg.Registries...)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", s)}
	}
	return l, nil
}

func runServe(cmd *cobra.Command, g *globalOptions, o *serveOptions) error {
	ctx := cmd.Context()
	level, err := parseLogLevel(o.logLevel)
	if err != nil {
		return err
	}
	if o.auditInterval < 0 {
		return usageError{fmt.Errorf("--audit-interval %s: use a positive duration, or 0 to turn the audit off", o.auditInterval)}
	}
	if o.auditLease != "" {
		if o.auditInterval == 0 {
			return usageError{errors.New("--audit-lease elects the replica that runs the periodic audit; give --audit-interval too")}
		}
		if _, _, err := parseLease(o.auditLease); err != nil {
			return err
		}
	}
	log := slog.New(slog.NewJSONHandler(g.err, &slog.HandlerOptions{Level: level}))
	cfg, err := o.loadConfig(cmd)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}
	reg := prometheus.NewRegistry()
	metrics, err := server.NewMetrics(reg)
	if err != nil {
		return err
	}
	state := &serveState{log: log, metrics: metrics}
	// Watch before the first build reads the files, so that a change made
	// while it reads them is not missed (WatchFiles fingerprints them before
	// it returns, and then polls on its own goroutine).
	if paths := o.watchedFiles(cfg); len(paths) > 0 {
		server.WatchFiles(ctx, paths, o.reload, func() {
			next, err := o.loadConfig(cmd)
			if err == nil {
				err = state.load(ctx, next)
			}
			if err != nil {
				metrics.ObserveReload(false)
				log.Error("configuration change rejected; the previous configuration stays in force", "error", err.Error())
				return
			}
			metrics.ObserveReload(true)
			log.Info("configuration reloaded", "generation", state.generation())
		})
	}
	if err := state.load(ctx, cfg); err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		Addr:               cfg.Listen,
		CertFile:           cfg.TLS.CertFile,
		KeyFile:            cfg.TLS.KeyFile,
		ClientCAFile:       cfg.TLS.ClientCAFile,
		CertReloadInterval: o.reload,
		Handler:            state.routes(),
		Registry:           reg,
		Logger:             log,
		Ready:              state.ready,
	})
	if err != nil {
		return err
	}
	if err := srv.Listen(ctx); err != nil {
		return err
	}
	log.Info("hallmark serving", "addr", srv.Addr(), "mode", string(cfg.Mode), "generation", state.generation())

	audited := make(chan struct{})
	if o.auditInterval > 0 {
		client, err := auditClient(o.kubeconfig)
		if err != nil {
			return err
		}
		go func() {
			defer close(audited)
			state.runAudit(ctx, client, o.auditLease, o.auditInterval, o.auditEvents)
		}()
	} else {
		close(audited)
	}
	go state.refreshTrust(ctx, cfg.TrustStoreRefresh.Duration, func() (*config.Config, error) { return o.loadConfig(cmd) })
	err = srv.Serve(ctx)
	// Let the audit release its lease, so that another replica takes over
	// at once rather than after the lease expires.
	select {
	case <-audited:
	case <-time.After(5 * time.Second):
	}
	return err
}

// refreshTrust rebuilds the trust stores every interval and reloads when
// their certificates changed: a rotated key named by "NAME/*", a certificate
// added to a folder. Files the configuration names are watched already;
// this covers what a file watch cannot see (key stores, folders).
func (s *serveState) refreshTrust(ctx context.Context, interval time.Duration, load func() (*config.Config, error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cfg, err := load()
		if err != nil {
			continue // the configuration watcher reports a bad configuration
		}
		ts, err := cfg.BuildTrustStore(ctx)
		if err != nil {
			s.log.Warn("trust store refresh failed; the current trust material stays in force", "error", err.Error())
			continue
		}
		if ts.Fingerprint() == s.cur.Load().trust {
			continue
		}
		if err := s.load(ctx, cfg); err != nil {
			s.metrics.ObserveReload(false)
			s.log.Error("trust material changed but the new configuration was rejected; the previous one stays in force", "error", err.Error())
			continue
		}
		s.metrics.ObserveReload(true)
		s.log.Info("trust material changed; reloaded", "generation", s.generation())
	}
}

// watchedFiles lists what a reload depends on: the configuration file and
// every file it names (trust policy, certificates, credentials), but not the
// serving certificate, which the server reloads on its own without
// rebuilding (and so without emptying the verification cache). Files a
// changed configuration names for the first time are watched from the next
// restart on.
func (o *serveOptions) watchedFiles(cfg *config.Config) []string {
	var paths []string
	if o.configFile != "" {
		paths = append(paths, o.configFile)
	}
	for _, f := range cfg.Files() {
		if f != cfg.TLS.CertFile && f != cfg.TLS.KeyFile && f != cfg.TLS.ClientCAFile {
			paths = append(paths, f)
		}
	}
	return paths
}

// serveState holds the configuration in force. A reload builds a whole new
// admitter (registry client, engine, cache) under a new generation and swaps
// it in at once, so a request sees one configuration from start to end and no
// verdict made under the old policy is ever served under the new one.
type serveState struct {
	log     *slog.Logger
	metrics *server.Metrics
	cur     atomic.Pointer[serveRuntime]
	gen     atomic.Uint64
	// loadMu serializes loads (the file watcher and the trust refresh), so
	// that each gets a generation of its own.
	loadMu sync.Mutex
}

type serveRuntime struct {
	gen      uint64
	admitter *admission.Admitter
	cache    *cache.Cache
	mutate   bool
	// trust is the trust store's fingerprint, for refresh to tell whether
	// rebuilt trust material changed.
	trust string
}

func (s *serveState) generation() uint64 { return s.gen.Load() }

func (s *serveState) ready() error {
	if s.cur.Load() == nil {
		return fmt.Errorf("trust material not loaded")
	}
	return nil
}

// load builds a runtime from cfg and puts it in force.
func (s *serveState) load(ctx context.Context, cfg *config.Config) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	gen := s.gen.Load() + 1
	b, err := buildAdmitter(ctx, cfg, admitterHooks{
		generation: gen,
		onResponse: s.metrics.ObserveRegistryResponse,
		onLookup:   s.metrics.ObserveCacheLookup,
		options: admission.Options{
			Logger: s.log,
			OnImage: func(res verify.Result, _ admission.Mode) {
				s.metrics.ObserveImage(string(res.Code), res.Cached, res.Duration)
			},
			OnDecision: func(_ string, mode admission.Mode, allowed bool) {
				s.metrics.ObserveDecision(string(mode), allowed, false)
			},
		},
	})
	if err != nil {
		return err
	}
	s.cur.Store(&serveRuntime{gen: gen, admitter: b.admitter, cache: b.cache, mutate: cfg.Admission.Mutate == nil || *cfg.Admission.Mutate,
		trust: b.trust})
	s.gen.Store(gen)
	s.metrics.SetGeneration(gen)
	return nil
}

// Decide and Mutate serve the webhook handlers from the runtime in force.
func (s *serveState) Decide(ctx context.Context, req admission.Request) admission.Decision {
	d := s.cur.Load().admitter.Decide(ctx, req)
	s.metrics.ObserveRequest("validate", outcome(d.Allowed))
	return d
}

func (s *serveState) Mutate(ctx context.Context, req admission.Request) admission.Mutation {
	rt := s.cur.Load()
	if !rt.mutate {
		return admission.Mutation{Allowed: true}
	}
	m := rt.admitter.Mutate(ctx, req)
	s.metrics.ObserveRequest("mutate", outcome(m.Allowed))
	return m
}

// Verify serves the Gatekeeper provider from the runtime in force.
func (s *serveState) Verify(ctx context.Context, ref string) verify.Result {
	return s.cur.Load().cache.Verify(ctx, ref)
}

func outcome(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

func (s *serveState) routes() http.Handler {
	mux := http.NewServeMux()
	wopts := webhook.Options{Logger: s.log}
	mux.Handle("/validate", s.countErrors("validate", webhook.NewValidateHandler(s, wopts)))
	mux.Handle("/mutate", s.countErrors("mutate", webhook.NewMutateHandler(s, wopts)))
	s.gatekeeperRoutes(mux)
	return mux
}

// countErrors counts requests refused before a decision (4xx, 5xx); the
// webhooks count their decisions themselves.
func (s *serveState) countErrors(endpoint string, h http.Handler) http.Handler {
	return s.countRequests(endpoint, "", h)
}

// countRequests counts requests refused before an answer (4xx, 5xx) as
// errors and, unless answered is empty, the others under that outcome.
func (s *serveState) countRequests(endpoint, answered string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		switch {
		case sw.status >= 400:
			s.metrics.ObserveRequest(endpoint, server.OutcomeError)
		case answered != "":
			s.metrics.ObserveRequest(endpoint, answered)
		}
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
