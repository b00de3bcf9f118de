package serve

import (
	"context"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/server"
)

// Source yields the configuration the runtime serves; see the package
// documentation for the contract Load and Watch keep.
type Source interface {
	// Load returns the configuration as the source holds it now,
	// defaults applied and validated.
	Load(ctx context.Context) (*config.Config, error)
	// Watch starts watching the source and returns; until ctx is done it
	// calls changed whenever what Load returns may have changed.
	Watch(ctx context.Context, changed func())
}

// TrustReporter is a Source that is told how the trust stores of each
// configuration it gave were built, at every build and every trust
// refresh: Ratify's resources show it in their status.
type TrustReporter interface {
	// TrustBuilt receives the report; it must not block for long (the
	// runtime holds no lock, but the refresh waits for it).
	TrustBuilt(ctx context.Context, r config.TrustReport)
}

// PendingSource is a Source under which serve starts even when its first
// configuration does not load or build: Ratify's resources in a cluster,
// where exiting would put the pod in a crash loop whose back-off delays
// recovery long after the cause is fixed. Until a generation is in force
// the runtime serves Pending's listener and TLS files, is not ready, denies
// every image in deny mode (audit mode admits with a warning), and retries
// on the source's watch and on a back-off. A Source that does not
// implement it (FileSource) fails the start instead: a file the operator
// just wrote is better refused at once.
type PendingSource interface {
	Source
	// Pending returns what serves before the first generation: the
	// listener, TLS files, mode and admission settings, with defaults
	// applied. Its trust policy and trust stores are never used.
	Pending() *config.Config
}

// FileSource is a configuration read from a YAML file (or the defaults,
// when Path is empty) with Overlay applied, watched by polling the file and
// every file it names.
type FileSource struct {
	// Path is the configuration file. Empty means config.Default().
	Path string
	// Overlay, if set, changes the configuration read before defaults are
	// applied and it is validated: the command line's flags.
	Overlay func(*config.Config)
	// Interval is how often the files are checked for changes; zero or
	// less means server.DefaultReloadInterval.
	Interval time.Duration

	mu    sync.Mutex
	files []string // what the first successful Load named
}

// Load reads the file, lays Overlay over it, applies the defaults and
// validates the result.
func (s *FileSource) Load(context.Context) (*config.Config, error) {
	cfg := config.Default()
	if s.Path != "" {
		c, err := config.Load(s.Path)
		if err != nil {
			return nil, err
		}
		cfg = c
	}
	if s.Overlay != nil {
		s.Overlay(cfg)
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.files == nil {
		s.files = watchedFiles(s.Path, cfg)
	}
	s.mu.Unlock()
	return cfg, nil
}

// Watch polls the configuration file and the files the first loaded
// configuration names (see watchedFiles). It fingerprints them before it
// returns.
func (s *FileSource) Watch(ctx context.Context, changed func()) {
	s.mu.Lock()
	paths := s.files
	s.mu.Unlock()
	if len(paths) == 0 {
		return
	}
	server.WatchFiles(ctx, paths, s.Interval, changed)
}

// watchedFiles lists what a reload depends on: the configuration file and
// every file it names (trust policy, certificates, credentials), but not
// the serving certificate, which the server reloads on its own without
// rebuilding (and so without emptying the verification cache). Files a
// changed configuration names for the first time are watched from the next
// restart on.
func watchedFiles(path string, cfg *config.Config) []string {
	paths := []string{}
	if path != "" {
		paths = append(paths, path)
	}
	for _, f := range cfg.Files() {
		if f != cfg.TLS.CertFile && f != cfg.TLS.KeyFile && f != cfg.TLS.ClientCAFile {
			paths = append(paths, f)
		}
	}
	return paths
}
