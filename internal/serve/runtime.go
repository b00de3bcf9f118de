package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/server"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Options configure a Runtime. The zero value logs nothing, registers its
// metrics on a registry of its own and checks certificates every
// server.DefaultReloadInterval.
type Options struct {
	// Logger receives the runtime's records (reloads, audits) and, through
	// the admitter and the server, one per image verdict and decision.
	// Nil discards them.
	Logger *slog.Logger
	// Registry is where the metrics are registered and what /metrics
	// serves. Nil means a new registry.
	Registry *prometheus.Registry
	// Addr, if set, is the address NewServer listens on in place of the
	// configuration's listen: "127.0.0.1:0" for a free loopback port,
	// which a configuration cannot name (`hallmark demo`).
	Addr string
	// CertReloadInterval is how often the server checks its serving
	// certificate files; zero or less means server.DefaultReloadInterval.
	CertReloadInterval time.Duration
	// UserAgent is sent to registries.
	UserAgent string
	// OnImage, if set, sees every image verdict, after the metrics do.
	OnImage func(verify.Result)
	// Cache, if set, changes each generation's cache options.
	Cache func(*cache.Options)
}

// ErrNotLoaded is what readiness reports before the first generation is in
// force.
var ErrNotLoaded = errors.New("trust material not loaded")

// Runtime is the configuration generation in force and what swaps it.
// Start returns one with its first generation in force.
type Runtime struct {
	src     Source
	opts    Options
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *server.Metrics
	cur     atomic.Pointer[Generation]
	gen     atomic.Uint64
	// pending answers requests while no generation is in force (see
	// PendingSource); nil when the first generation came up at start.
	pending atomic.Pointer[Generation]
	// lastErr is why the last load failed, for readiness before the
	// first generation.
	lastErr atomic.Pointer[string]
	// loaded is closed when the first generation is put in force.
	loaded     chan struct{}
	loadedOnce sync.Once
	// loadMu serializes loads (the source's watch, the trust refresh, an
	// explicit Reload), so that each gets a generation of its own.
	loadMu sync.Mutex
	// revoked is, per trust source path, the revocation last logged
	// (disabled versions, a deleted certificate), so that each change is
	// said once rather than at every refresh.
	revokedMu sync.Mutex
	revoked   map[string]string
}

// Start loads the source's configuration, starts watching the source, puts
// the first generation in force and starts the trust refresh; they run
// until ctx is done. It fails when the first configuration does not load
// or build, unless src is a PendingSource: then it returns a runtime that
// is not ready, answers requests as PendingSource says, and retries until
// a generation is in force.
func Start(ctx context.Context, src Source, opts Options) (*Runtime, error) {
	r := &Runtime{src: src, opts: opts, log: opts.Logger, reg: opts.Registry, loaded: make(chan struct{})}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.reg == nil {
		r.reg = prometheus.NewRegistry()
	}
	m, err := server.NewMetrics(r.reg)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	ps, canWait := src.(PendingSource)
	cfg, err := src.Load(ctx)
	if err != nil && !canWait {
		return nil, err
	}
	if cfg != nil {
		for _, w := range cfg.Warnings() {
			r.log.Warn(w)
		}
	}
	// Watch before the first build reads the files (see Source).
	src.Watch(ctx, func() {
		if err := r.Reload(ctx); err != nil {
			r.log.Error("configuration change rejected; the previous configuration stays in force", "error", err.Error())
			return
		}
		r.log.Info("configuration reloaded", "generation", r.Generation())
	})
	if err == nil {
		err = r.load(ctx, cfg)
	}
	if err != nil {
		if !canWait {
			return nil, err
		}
		r.failed(err)
		r.log.Error("the first configuration did not load; serving, not ready, and retrying", "error", err.Error())
		r.pending.Store(pendingGeneration(ps.Pending(), r.admissionOptions()))
		go r.retry(ctx)
	}
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-r.loaded:
		}
		server.Poll(ctx, r.Config().TrustStoreRefresh.Duration, func() { r.refreshTrust(ctx) })
	}()
	return r, nil
}

// Retry back-off before the first generation: short at first, for a
// cause fixed at once (a Key Vault role assignment still propagating),
// and capped so that recovery comes within retryMax of the fix even when
// the source sees no change of its own.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// retry reloads on a back-off until the first generation is in force or
// ctx is done; the source's watch reloads in between.
func (r *Runtime) retry(ctx context.Context) {
	wait := retryMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.loaded:
			t.Stop()
			return
		case <-t.C:
		}
		if err := r.Reload(ctx); err != nil {
			r.log.Warn("the configuration still does not load; not ready, retrying", "error", err.Error(), "retryIn", (min(2*wait, retryMax)).String())
		} else {
			r.log.Info("configuration loaded; ready", "generation", r.Generation())
			return
		}
		wait = min(2*wait, retryMax)
	}
}

// failed records why a load failed, for readiness.
func (r *Runtime) failed(err error) {
	msg := err.Error()
	r.lastErr.Store(&msg)
}

// Config returns the configuration in force or, before the first
// generation, the PendingSource's.
func (r *Runtime) Config() *config.Config { return r.serving().Config }

// serving is the generation that answers requests: the one in force, or
// the pending one before it.
func (r *Runtime) serving() *Generation {
	if g := r.cur.Load(); g != nil {
		return g
	}
	return r.pending.Load()
}

// Generation returns the number of the generation in force (the first is 1).
func (r *Runtime) Generation() uint64 { return r.gen.Load() }

// Ready reports whether a generation is in force: the server's readiness.
func (r *Runtime) Ready() error {
	if r.cur.Load() == nil {
		if msg := r.lastErr.Load(); msg != nil {
			return fmt.Errorf("%w: %s", ErrNotLoaded, *msg)
		}
		return ErrNotLoaded
	}
	return nil
}

// Reload loads the source's configuration now and puts a generation built
// from it in force. On error the generation in force stays, and the error
// says why. Either way the reload is counted.
func (r *Runtime) Reload(ctx context.Context) error {
	cfg, err := r.src.Load(ctx)
	if err == nil {
		err = r.load(ctx, cfg)
	}
	r.metrics.ObserveReload(err == nil)
	if err != nil && r.cur.Load() == nil {
		r.failed(err)
	}
	return err
}

// refreshTrust rebuilds the trust store and reloads when its certificates
// changed: a rotated key named by "NAME/*", a certificate added to a
// folder. Files the configuration names are watched by the source; this
// covers what a file watch cannot see (key stores, folders).
func (r *Runtime) refreshTrust(ctx context.Context) {
	cur := r.cur.Load()
	if cur == nil {
		return // nothing in force yet: the retry and the watch load
	}
	cfg, err := r.src.Load(ctx)
	if err != nil {
		return // the source's watch reports a bad configuration
	}
	var sources []config.TrustSource
	now := time.Now()
	revocable := revocableKeys(cur.Config)
	ts, err := trustStore(ctx, cfg, func(s config.TrustSource) { sources = append(sources, s) }, revocable)
	if err != nil {
		r.log.Warn("trust store refresh failed; the current trust material stays in force", "error", err.Error())
		r.reportTrust(ctx, config.TrustReport{Config: cfg, Time: now, Sources: sources, Err: err})
		return
	}
	// Cosign keys from key stores, tokens and vaults rotate too.
	policies, err := cosignPolicies(ctx, cfg, revocable)
	if err != nil {
		r.log.Warn("cosign key refresh failed; the current trust material stays in force", "error", err.Error())
		return
	}
	if trustFingerprint(ts.Fingerprint(), cosignFingerprint(policies)) == cur.Trust {
		r.reportTrust(ctx, config.TrustReport{Config: cfg, Time: now, Sources: sources, InForce: true})
		return
	}
	err = r.load(ctx, cfg)
	r.metrics.ObserveReload(err == nil)
	if err != nil {
		r.log.Error("trust material changed but the new configuration was rejected; the previous one stays in force", "error", err.Error())
		return
	}
	r.log.Info("trust material changed; reloaded", "generation", r.Generation())
}

// reportTrust tells the source how its trust stores were built, if it
// wants to know.
func (r *Runtime) reportTrust(ctx context.Context, rep config.TrustReport) {
	r.logRevoked(rep.Sources)
	if tr, ok := r.src.(TrustReporter); ok {
		tr.TrustBuilt(ctx, rep)
	}
}

// logRevoked says which Key Vault versions a source leaves out because
// the vault has them disabled, or that its certificate was deleted, when
// that changes: at warn when the source then trusts nothing (its owner
// revoked it, or a mistake left a trust store empty), at info when it
// still trusts other versions.
func (r *Runtime) logRevoked(sources []config.TrustSource) {
	r.revokedMu.Lock()
	defer r.revokedMu.Unlock()
	for _, src := range sources {
		if src.Err != nil {
			continue // not read: what was said stands
		}
		missing := ""
		if src.Missing != nil {
			missing = src.Missing.Error()
		}
		now := fmt.Sprintf("%s %t %s", strings.Join(src.Disabled, ","), len(src.Versions) == 0, missing)
		if r.revoked[src.Path] == now {
			continue
		}
		if r.revoked == nil {
			r.revoked = map[string]string{}
		}
		r.revoked[src.Path] = now
		switch {
		case src.Missing != nil:
			r.log.Warn("a Key Vault certificate the configuration trusted is no longer in the vault (deleted); this source trusts nothing now", "source", src.Path, "error", missing)
		case len(src.Disabled) == 0:
		case len(src.Versions) == 0:
			r.log.Warn("Key Vault certificate versions disabled in the vault are not trusted; this source trusts nothing now", "source", src.Path, "versions", src.Disabled)
		default:
			r.log.Info("Key Vault certificate versions disabled in the vault are not trusted", "source", src.Path, "versions", src.Disabled)
		}
	}
}

// load builds a generation from cfg and puts it in force.
func (r *Runtime) load(ctx context.Context, cfg *config.Config) error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	gen := r.gen.Load() + 1
	var sources []config.TrustSource
	now := time.Now()
	var inForce *config.Config
	if cur := r.cur.Load(); cur != nil {
		inForce = cur.Config
	}
	g, err := Build(ctx, cfg, BuildOptions{
		InForce:       inForce,
		OnTrustSource: func(s config.TrustSource) { sources = append(sources, s) },
		UserAgent:     r.opts.UserAgent,
		OnResponse:    r.metrics.ObserveRegistryResponse,
		OnLookup:      r.metrics.ObserveCacheLookup,
		Cache:         r.opts.Cache,
		Admission:     r.admissionOptions(),
	})
	if err != nil {
		r.reportTrust(ctx, config.TrustReport{Config: cfg, Time: now, Sources: sources, Err: err})
		return err
	}
	r.cur.Store(g)
	r.gen.Store(gen)
	r.metrics.SetGeneration(gen)
	r.loadedOnce.Do(func() { close(r.loaded) })
	// Reported once in force, so that what a status or the log says (a
	// version revoked, a certificate added) is never ahead of what
	// admission decides: writing the statuses takes API round trips.
	r.reportTrust(ctx, config.TrustReport{Config: cfg, Time: now, Sources: sources, InForce: true})
	return nil
}

// admissionOptions are every admitter's options: the runtime's logger and
// metrics.
func (r *Runtime) admissionOptions() admission.Options {
	return admission.Options{
		Logger: r.log,
		OnImage: func(res verify.Result, _ admission.Mode) {
			r.metrics.ObserveImage(string(res.Code), res.Cached, res.Duration)
			if r.opts.OnImage != nil {
				r.opts.OnImage(res)
			}
		},
		OnDecision: func(_ string, mode admission.Mode, allowed bool) {
			r.metrics.ObserveDecision(string(mode), allowed, false)
		},
	}
}
