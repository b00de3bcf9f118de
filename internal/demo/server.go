package demo

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/serve"
)

// startServer writes the trust material and the serving certificate, and
// starts hallmark's admission runtime on them, as `hallmark serve` would
// with the configuration source writes, on a loopback port.
func (d *Demo) startServer(ctx context.Context, s *Step, key *keys.Key) error {
	root := key.Chain[len(key.Chain)-1]
	pki, err := newServingPKI(time.Now())
	if err != nil {
		return err
	}
	// The trust material on disk, where the configuration names it and
	// the commands `--keep` prints find it.
	files := map[string][]byte{
		"trustpolicy.json": trustPolicyJSON,
		filepath.Join("truststore", "x509", "ca", trustStoreName, "root.pem"): pemCert(root.Raw),
		"ca.pem":                      pki.caPEM,
		"tls.crt":                     pki.certPEM,
		"tls.key":                     pki.keyPEM,
		"review-" + passPod + ".json": podReview(passPod, d.report.SignedImage),
		"review-" + failPod + ".json": podReview(failPod, d.report.UnsignedImage),
		"provider-request.json":       providerRequest(d.report.SignedImage, d.report.UnsignedImage),
		"provider-request-" + unsignedTag + ".json": providerRequest(d.report.UnsignedImage),
	}
	for name, data := range files {
		p := filepath.Join(d.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return err
		}
	}
	d.src = &source{dir: d.dir, registry: d.reg.Host(), mode: admission.ModeAudit}
	rt, err := serve.Start(ctx, d.src, serve.Options{
		Logger:    d.log,
		Addr:      "127.0.0.1:0",
		UserAgent: "hallmark-demo",
		OnImage:   d.images.add,
		// Failures are not kept, so that an image signed while --keep
		// runs passes at the next request instead of after the negative
		// TTL.
		Cache: func(o *cache.Options) { o.NegativeTTL = -1 },
	})
	if err != nil {
		return err
	}
	srv, err := rt.NewServer()
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	if err := srv.Listen(sctx); err != nil {
		stop()
		return err
	}
	d.rt, d.stop, d.served = rt, stop, make(chan error, 1)
	go func() { d.served <- srv.Serve(sctx) }()
	d.url = "https://" + srv.Addr()
	d.report.Server = d.url
	d.http = &http.Client{
		Transport: &http.Transport{TLSClientConfig: pki.tlsClientConfig()},
		Timeout:   30 * time.Second,
	}
	s.add("server    %s (serving certificate for 127.0.0.1 from a CA made just now)", d.url)
	s.add("policy    strict; trust store ca:%s; trusted identity %s", trustStoreName, d.report.Signer)
	return nil
}

// setMode puts the admission mode in force, through a reload of the
// runtime when it changes.
func (d *Demo) setMode(ctx context.Context, mode admission.Mode) error {
	if !d.src.setMode(mode) {
		return nil
	}
	return d.rt.Reload(ctx)
}

// source is the demo's configuration source: what an operator would write
// in hallmark's configuration file for this machine. Check changes its mode
// as an operator would after watching the warnings of audit mode.
type source struct {
	dir      string
	registry string // the embedded registry's host:port, reached over plain HTTP

	mu   sync.Mutex
	mode admission.Mode
}

// setMode changes the mode and reports whether it changed.
func (s *source) setMode(mode admission.Mode) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := s.mode != mode
	s.mode = mode
	return changed
}

// Load returns the configuration; see serve.Source.
func (s *source) Load(context.Context) (*config.Config, error) {
	s.mu.Lock()
	mode := s.mode
	s.mu.Unlock()
	cfg := config.Default()
	cfg.Mode = config.Mode(mode)
	cfg.TLS.CertFile = filepath.Join(s.dir, "tls.crt")
	cfg.TLS.KeyFile = filepath.Join(s.dir, "tls.key")
	cfg.TrustPolicy = config.TrustPolicy{File: filepath.Join(s.dir, "trustpolicy.json")}
	cfg.TrustStoreDir = filepath.Join(s.dir, "truststore")
	cfg.Registries = []config.Registry{{Hosts: []string{s.registry}, PlainHTTP: true}}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Watch does nothing: the demo changes its configuration only through
// setMode, which reloads at once.
func (*source) Watch(context.Context, func()) {}
