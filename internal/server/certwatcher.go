package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/certbundle"
)

// maxPEMFileBytes caps each certificate, key and CA file read. A serving
// chain or key is a few KiB and a CA bundle with a few hundred roots about
// 250 KiB; a mount that points somewhere unexpected must not be read into
// memory whole, every poll interval.
const maxPEMFileBytes = 1 << 20

// DefaultReloadInterval is how often a CertWatcher and WatchFiles poll their
// files when no interval is given. Kubernetes itself takes up to a minute to
// propagate a changed Secret or ConfigMap into a pod, so polling faster buys
// little, and reading a few small files this often costs nothing.
const DefaultReloadInterval = 10 * time.Second

// CertWatcherOptions configures a CertWatcher. The serving certificate comes
// either from CertFile and KeyFile (reloaded when they change) or from
// Certificate (fixed), never both.
type CertWatcherOptions struct {
	// CertFile is a PEM file holding the serving certificate followed by any
	// intermediates. It is read through symlinks on every poll, so the
	// symlink swap of a Kubernetes Secret mount is seen. Empty when
	// Certificate is set.
	CertFile string

	// KeyFile is the PEM private key matching CertFile. Empty when
	// Certificate is set.
	KeyFile string

	// Certificate, if non-nil, is served as is and never reloaded: the demo
	// and tests mint one in memory. It must hold a chain and a private key.
	Certificate *tls.Certificate

	// ClientCAFile, if set, is a PEM bundle of CAs that client certificates
	// must chain to; it is reloaded like CertFile. Empty means clients
	// present no certificate.
	ClientCAFile string

	// ClientAuth is the policy applied when ClientCAFile is set. The zero
	// value (tls.NoClientCert) means tls.RequireAndVerifyClientCert: a CA
	// file that requires nothing would be a silent misconfiguration.
	ClientAuth tls.ClientAuthType

	// Interval is how often Run polls the files. Zero means
	// DefaultReloadInterval.
	Interval time.Duration

	// OnReload, if non-nil, is called by Run after each reload attempt that
	// saw the files change: with nil when the new material is being served,
	// or with the reason it was rejected while the previous material stays
	// in use. The same unchanged failure (a file that stays unreadable, a
	// key that stays mismatched) is reported once, not every interval.
	OnReload func(err error)
}

// CertWatcher serves TLS material that can change while the server runs:
// a serving certificate and an optional client CA bundle. It polls the
// files' content rather than watching inotify events because Kubernetes
// updates Secret mounts by swapping a directory symlink, which a watch on
// the file itself never sees; hashing what the resolved path holds sees every
// kind of update. A reload that fails keeps the previous material, so a
// half-written pair or a key that does not match its certificate never takes
// the server down.
type CertWatcher struct {
	opts CertWatcherOptions

	// state is swapped whole on reload so a handshake never sees a new
	// certificate with old client CAs or the reverse.
	state atomic.Pointer[tlsState]

	mu      sync.Mutex // serialises reloads
	lastSum [sha256.Size]byte
}

// tlsState is one consistent generation of TLS material. Its config is
// handed to concurrent handshakes and so is never modified after creation.
type tlsState struct {
	cert   *tls.Certificate
	config *tls.Config
}

// pemFiles is the raw content of the watched files at one moment.
type pemFiles struct {
	cert, key, clientCA []byte
}

// NewCertWatcher loads the TLS material now and fails if it is unusable: a
// server must not start without a certificate it can serve.
func NewCertWatcher(opts CertWatcherOptions) (*CertWatcher, error) {
	switch {
	case opts.Certificate != nil && (opts.CertFile != "" || opts.KeyFile != ""):
		return nil, fmt.Errorf("%w: both an in-memory certificate and certificate files", ErrInvalidOptions)
	case opts.Certificate == nil && (opts.CertFile == "" || opts.KeyFile == ""):
		return nil, fmt.Errorf("%w: a serving certificate needs both a certificate file and a key file", ErrInvalidOptions)
	case opts.Certificate != nil && (len(opts.Certificate.Certificate) == 0 || opts.Certificate.PrivateKey == nil):
		return nil, fmt.Errorf("%w: the in-memory certificate has no chain or no private key", ErrInvalidCertificate)
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultReloadInterval
	}
	if opts.ClientAuth == tls.NoClientCert {
		opts.ClientAuth = tls.RequireAndVerifyClientCert
	}
	w := &CertWatcher{opts: opts}
	files, sum, err := w.read()
	if err != nil {
		return nil, err
	}
	st, err := w.build(files)
	if err != nil {
		return nil, err
	}
	w.state.Store(st)
	w.lastSum = sum
	return w, nil
}

// TLSConfig returns a server configuration that serves the watcher's current
// material on every handshake, with TLS 1.2 as the minimum version.
func (w *CertWatcher) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		GetCertificate:     w.GetCertificate,
		GetConfigForClient: w.GetConfigForClient,
	}
}

// GetCertificate returns the current serving certificate. It has the
// signature of tls.Config.GetCertificate.
func (w *CertWatcher) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return w.state.Load().cert, nil
}

// GetConfigForClient returns the configuration for one handshake: the current
// certificate and client CAs, TLS 1.2 minimum. It has the signature of
// tls.Config.GetConfigForClient; a per-handshake config is how client CAs
// can change without restarting the listener.
func (w *CertWatcher) GetConfigForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	return w.state.Load().config, nil
}

// Run polls the files every Interval and reloads them when their content
// changes, until ctx is done. With nothing to watch (an in-memory
// certificate and no client CA file) it returns at once.
func (w *CertWatcher) Run(ctx context.Context) {
	if w.opts.CertFile == "" && w.opts.ClientCAFile == "" {
		return
	}
	Poll(ctx, w.opts.Interval, func() {
		changed, err := w.reload()
		if changed && w.opts.OnReload != nil {
			w.opts.OnReload(err)
		}
	})
}

// current returns the material being served.
func (w *CertWatcher) current() *tlsState {
	return w.state.Load()
}

// reload reads the files and, if they differ from the last attempt, builds
// and installs new material. changed reports whether anything was attempted.
// On error the previous material stays in use.
func (w *CertWatcher) reload() (changed bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	files, sum, err := w.read()
	if err != nil {
		// A read error gets a fingerprint of its own so that a file that
		// stays missing is reported once, and its return (even with the
		// old content) is noticed and reported as a recovery.
		sum = sha256.Sum256([]byte(err.Error()))
		if sum == w.lastSum {
			return false, nil
		}
		w.lastSum = sum
		return true, err
	}
	if sum == w.lastSum {
		return false, nil
	}
	// Remember a rejected fingerprint too: a broken pair is reported once,
	// and the next write (the second half of a pair, a fixed key) is a new
	// fingerprint and is tried again.
	w.lastSum = sum
	st, err := w.build(files)
	if err != nil {
		return true, err
	}
	w.state.Store(st)
	return true, nil
}

// read returns the watched files' content and a fingerprint of it.
func (w *CertWatcher) read() (pemFiles, [sha256.Size]byte, error) {
	var f pemFiles
	var err error
	if w.opts.CertFile != "" {
		if f.cert, err = capped.ReadFile(w.opts.CertFile, maxPEMFileBytes); err != nil {
			return f, [sha256.Size]byte{}, fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
		}
		if f.key, err = capped.ReadFile(w.opts.KeyFile, maxPEMFileBytes); err != nil {
			return f, [sha256.Size]byte{}, fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
		}
	}
	if w.opts.ClientCAFile != "" {
		if f.clientCA, err = capped.ReadFile(w.opts.ClientCAFile, maxPEMFileBytes); err != nil {
			return f, [sha256.Size]byte{}, fmt.Errorf("%w: %w", ErrInvalidClientCA, err)
		}
	}
	h := sha256.New()
	for _, b := range [][]byte{f.cert, f.key, f.clientCA} {
		// Length-prefix each part so moving bytes from one file to the
		// next changes the fingerprint.
		_ = binary.Write(h, binary.BigEndian, uint64(len(b)))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return f, sum, nil
}

// build turns file content into servable material, or says why it cannot.
func (w *CertWatcher) build(f pemFiles) (*tlsState, error) {
	cert := w.opts.Certificate
	if cert == nil {
		// The chain is read block by block with the bundle rules, so a
		// file caught mid-write is refused instead of losing its
		// intermediate: tls.X509KeyPair skips what it cannot decode.
		if _, err := certbundle.Blocks(f.cert); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidCertificate, w.opts.CertFile, err)
		}
		pair, err := tls.X509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("%w: %s and %s: %w", ErrInvalidCertificate, w.opts.CertFile, w.opts.KeyFile, err)
		}
		cert = &pair
	}
	if cert.Leaf == nil {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidCertificate, err)
		}
		// Copy rather than set Leaf on the caller's certificate.
		c := *cert
		c.Leaf = leaf
		cert = &c
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*cert},
		// The config returned by GetConfigForClient replaces the one
		// http.Server prepared, including its ALPN list; without this,
		// HTTP/2 would silently be off.
		NextProtos: []string{"h2", "http/1.1"},
	}
	if w.opts.ClientCAFile != "" {
		pool, err := certbundle.Pool(f.clientCA)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidClientCA, w.opts.ClientCAFile, err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = w.opts.ClientAuth
	}
	return &tlsState{cert: cert, config: cfg}, nil
}
