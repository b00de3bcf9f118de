package server

import (
	"bytes"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestNewCertWatcherRejects(t *testing.T) {
	ca := newTestCA(t, "test CA")
	good := ca.issue(t, "server", 2, false)
	other := ca.issue(t, "server", 3, false)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certFile, keyFile := write("tls.crt", good.certPEM), write("tls.key", good.keyPEM)
	half := func(b []byte) []byte { return b[:len(b)/2] }
	// lostEnd cuts a block at a line end, as a lost END line would: read
	// with pem.Decode, it is skipped for the good block after it.
	lostEnd := func(b []byte) []byte { return b[:bytes.LastIndexByte(half(b), '\n')+1] }

	tests := []struct {
		name string
		opts CertWatcherOptions
		want error
	}{
		{"no certificate", CertWatcherOptions{}, ErrInvalidOptions},
		{"certificate file without key", CertWatcherOptions{CertFile: certFile}, ErrInvalidOptions},
		{"files and in-memory", CertWatcherOptions{CertFile: certFile, KeyFile: keyFile, Certificate: &good.pair}, ErrInvalidOptions},
		{"in-memory without key", CertWatcherOptions{Certificate: &tls.Certificate{Certificate: good.pair.Certificate}}, ErrInvalidCertificate},
		{"missing certificate file", CertWatcherOptions{CertFile: filepath.Join(dir, "absent"), KeyFile: keyFile}, ErrInvalidCertificate},
		{"key of another certificate", CertWatcherOptions{CertFile: certFile, KeyFile: write("other.key", other.keyPEM)}, ErrInvalidCertificate},
		{"not PEM", CertWatcherOptions{CertFile: write("junk.crt", []byte("junk")), KeyFile: keyFile}, ErrInvalidCertificate},
		{"half-written chain", CertWatcherOptions{CertFile: write("half.crt", append(bytes.Clone(good.certPEM), half(ca.pem)...)), KeyFile: keyFile}, ErrInvalidCertificate},
		{"chain with a block that lost its end", CertWatcherOptions{CertFile: write("lost.crt", append(append(bytes.Clone(good.certPEM), lostEnd(ca.pem)...), ca.pem...)), KeyFile: keyFile}, ErrInvalidCertificate},
		{"client CA block that lost its end", CertWatcherOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: write("lost.pem", append(lostEnd(ca.pem), ca.pem...))}, ErrInvalidClientCA},
		{"file over the size cap", CertWatcherOptions{CertFile: write("big.crt", append(bytes.Clone(good.certPEM), bytes.Repeat([]byte("#"), maxPEMFileBytes)...)), KeyFile: keyFile}, ErrInvalidCertificate},
		{"empty client CA file", CertWatcherOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: write("empty.pem", nil)}, ErrInvalidClientCA},
		{"client CA file without certificates", CertWatcherOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: keyFile}, ErrInvalidClientCA},
		{"half-written client CA file", CertWatcherOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: write("half.pem", append(bytes.Clone(ca.pem), half(ca.pem)...))}, ErrInvalidClientCA},
		{"missing client CA file", CertWatcherOptions{CertFile: certFile, KeyFile: keyFile, ClientCAFile: filepath.Join(dir, "absent")}, ErrInvalidClientCA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCertWatcher(tt.opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("NewCertWatcher() error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCertWatcherConfig(t *testing.T) {
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 7, false)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     CertWatcherOptions
		wantAuth tls.ClientAuthType
	}{
		{"in-memory, no client CA", CertWatcherOptions{Certificate: &leaf.pair}, tls.NoClientCert},
		{"client CA requires certificates by default", CertWatcherOptions{Certificate: &leaf.pair, ClientCAFile: caFile}, tls.RequireAndVerifyClientCert},
		{"client CA with explicit policy", CertWatcherOptions{Certificate: &leaf.pair, ClientCAFile: caFile, ClientAuth: tls.VerifyClientCertIfGiven}, tls.VerifyClientCertIfGiven},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewCertWatcher(tt.opts)
			if err != nil {
				t.Fatalf("NewCertWatcher() error = %v", err)
			}
			if got := w.TLSConfig().MinVersion; got != tls.VersionTLS12 {
				t.Errorf("TLSConfig().MinVersion = %x, want TLS 1.2", got)
			}
			cfg, _ := w.GetConfigForClient(nil)
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("GetConfigForClient().MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			if cfg.ClientAuth != tt.wantAuth {
				t.Errorf("GetConfigForClient().ClientAuth = %v, want %v", cfg.ClientAuth, tt.wantAuth)
			}
			if (cfg.ClientCAs != nil) != (tt.opts.ClientCAFile != "") {
				t.Errorf("GetConfigForClient().ClientCAs = %v, want a pool iff a client CA file is set", cfg.ClientCAs)
			}
			cert, _ := w.GetCertificate(nil)
			if got := cert.Leaf.SerialNumber.Int64(); got != 7 {
				t.Errorf("GetCertificate() serial = %d, want 7", got)
			}
		})
	}
}

// reloadRecorder collects the errors a CertWatcher reports.
type reloadRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *reloadRecorder) report(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *reloadRecorder) take() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := r.errs
	r.errs = nil
	return errs
}

// TestCertWatcherReload drives Run on a fake clock: each case starts from a
// Secret-style directory holding certificate 101, changes it between two
// polls, and checks what one poll later reports and serves.
func TestCertWatcherReload(t *testing.T) {
	const interval = time.Second
	ca := newTestCA(t, "test CA")
	v1 := ca.issue(t, "server", 101, false)
	v2 := ca.issue(t, "server", 102, false)
	half := func(b []byte) []byte { return b[:len(b)/2] }

	tests := []struct {
		name       string
		change     func(t *testing.T, sd *secretDir)
		wantReport []error // one entry per report; nil entries are successes
		wantSerial int64
	}{
		{
			name:       "unchanged",
			change:     func(*testing.T, *secretDir) {},
			wantSerial: 101,
		},
		{
			name: "rotated by symlink swap",
			change: func(_ *testing.T, sd *secretDir) {
				sd.update(map[string][]byte{"tls.crt": v2.certPEM, "tls.key": v2.keyPEM})
			},
			wantReport: []error{nil},
			wantSerial: 102,
		},
		{
			name: "rotated in place",
			change: func(t *testing.T, sd *secretDir) {
				writeFile(t, sd.path("tls.crt"), v2.certPEM)
				writeFile(t, sd.path("tls.key"), v2.keyPEM)
			},
			wantReport: []error{nil},
			wantSerial: 102,
		},
		{
			name: "only the certificate written so far",
			change: func(t *testing.T, sd *secretDir) {
				writeFile(t, sd.path("tls.crt"), v2.certPEM)
			},
			wantReport: []error{ErrInvalidCertificate},
			wantSerial: 101,
		},
		{
			name: "certificate half written",
			change: func(t *testing.T, sd *secretDir) {
				writeFile(t, sd.path("tls.crt"), half(v2.certPEM))
			},
			wantReport: []error{ErrInvalidCertificate},
			wantSerial: 101,
		},
		{
			name: "files removed",
			change: func(t *testing.T, sd *secretDir) {
				if err := os.Remove(filepath.Join(sd.dir, "..data")); err != nil {
					t.Fatal(err)
				}
			},
			wantReport: []error{ErrInvalidCertificate},
			wantSerial: 101,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sd := newSecretDir(t, map[string][]byte{"tls.crt": v1.certPEM, "tls.key": v1.keyPEM})
				var rec reloadRecorder
				w, err := NewCertWatcher(CertWatcherOptions{
					CertFile: sd.path("tls.crt"),
					KeyFile:  sd.path("tls.key"),
					Interval: interval,
					OnReload: rec.report,
				})
				if err != nil {
					t.Fatalf("NewCertWatcher() error = %v", err)
				}
				go w.Run(t.Context())
				// Change the files half-way between two polls.
				time.Sleep(interval / 2)
				tt.change(t, sd)
				time.Sleep(interval)
				synctest.Wait()

				checkReports(t, rec.take(), tt.wantReport)
				if got := servingSerial(w); got != tt.wantSerial {
					t.Errorf("serving serial %d, want %d", got, tt.wantSerial)
				}
				// Nothing changes any more: nothing more is reported,
				// however long it stays that way.
				time.Sleep(5 * interval)
				synctest.Wait()
				checkReports(t, rec.take(), nil)
			})
		})
	}
}

// TestCertWatcherRecovers follows a rotation that goes wrong and is then
// fixed: the broken pair is reported once and never served, the fix is
// picked up.
func TestCertWatcherRecovers(t *testing.T) {
	const interval = time.Second
	ca := newTestCA(t, "test CA")
	v1 := ca.issue(t, "server", 101, false)
	v2 := ca.issue(t, "server", 102, false)
	clientCA := newTestCA(t, "client CA")
	nextClientCA := newTestCA(t, "next client CA")

	synctest.Test(t, func(t *testing.T) {
		sd := newSecretDir(t, map[string][]byte{"tls.crt": v1.certPEM, "tls.key": v1.keyPEM, "ca.crt": clientCA.pem})
		var rec reloadRecorder
		w, err := NewCertWatcher(CertWatcherOptions{
			CertFile:     sd.path("tls.crt"),
			KeyFile:      sd.path("tls.key"),
			ClientCAFile: sd.path("ca.crt"),
			Interval:     interval,
			OnReload:     rec.report,
		})
		if err != nil {
			t.Fatalf("NewCertWatcher() error = %v", err)
		}
		go w.Run(t.Context())
		time.Sleep(interval / 2)

		steps := []struct {
			name       string
			files      map[string][]byte
			wantReport []error
			wantSerial int64
			wantCA     *testCA
		}{
			{"new key with old certificate", map[string][]byte{"tls.crt": v1.certPEM, "tls.key": v2.keyPEM, "ca.crt": clientCA.pem}, []error{ErrInvalidCertificate}, 101, clientCA},
			{"broken client CA", map[string][]byte{"tls.crt": v2.certPEM, "tls.key": v2.keyPEM, "ca.crt": []byte("not a CA")}, []error{ErrInvalidClientCA}, 101, clientCA},
			{"fixed", map[string][]byte{"tls.crt": v2.certPEM, "tls.key": v2.keyPEM, "ca.crt": nextClientCA.pem}, []error{nil}, 102, nextClientCA},
		}
		for _, st := range steps {
			sd.update(st.files)
			time.Sleep(interval)
			synctest.Wait()
			t.Logf("step %q", st.name)
			checkReports(t, rec.take(), st.wantReport)
			if got := servingSerial(w); got != st.wantSerial {
				t.Errorf("serving serial %d, want %d", got, st.wantSerial)
			}
			cfg, _ := w.GetConfigForClient(nil)
			if !cfg.ClientCAs.Equal(st.wantCA.pool()) {
				t.Errorf("client CAs are not %s", st.wantCA.cert.Subject)
			}
		}
	})
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func servingSerial(w *CertWatcher) int64 {
	cert, _ := w.GetCertificate(nil)
	return cert.Leaf.SerialNumber.Int64()
}

func checkReports(t *testing.T, got, want []error) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("reports = %v, want %v", got, want)
	}
	for i := range want {
		if (want[i] == nil) != (got[i] == nil) || !errors.Is(got[i], want[i]) {
			t.Errorf("report %d = %v, want %v", i, got[i], want[i])
		}
	}
}
