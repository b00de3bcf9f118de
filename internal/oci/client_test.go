package oci_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

func TestResolve(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			host := startRegistry(t, mode.referrers)
			image := pushImage(t, host, "app", "v1", "resolve")
			c := newClient(t, oci.Options{})
			missingDigest := "sha256:" + strings.Repeat("0", 64)

			tests := []struct {
				name    string
				ref     string
				wantErr error
				errText string
			}{
				{name: "tag", ref: host + "/app:v1"},
				{name: "digest", ref: host + "/app@" + image.Digest.String()},
				{name: "missing tag", ref: host + "/app:nope", wantErr: oci.ErrNotFound,
					errText: `tag "nope" not found in ` + host + "/app"},
				{name: "missing digest", ref: host + "/app@" + missingDigest, wantErr: oci.ErrNotFound,
					errText: "manifest " + missingDigest + " not found in " + host + "/app"},
				{name: "missing repository", ref: host + "/nothing:v1", wantErr: oci.ErrNotFound,
					errText: "repository " + host + "/nothing not found"},
				{name: "no tag", ref: host + "/app", wantErr: oci.ErrInvalidReference, errText: "has no tag or digest"},
				{name: "no registry", ref: "app:v1", wantErr: oci.ErrNoRegistry},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := c.Resolve(t.Context(), tt.ref)
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							t.Fatalf("Resolve(%q) error = %v, want %v", tt.ref, err, tt.wantErr)
						}
						if !strings.Contains(err.Error(), tt.errText) {
							t.Errorf("Resolve(%q) error = %q, want it to contain %q", tt.ref, err, tt.errText)
						}
						if oci.IsTransient(err) {
							t.Errorf("IsTransient(%v) = true, want false", err)
						}
						return
					}
					if err != nil {
						t.Fatalf("Resolve(%q) error = %v", tt.ref, err)
					}
					if got.Digest != image.Digest || got.Size != image.Size || got.MediaType != image.MediaType {
						t.Errorf("Resolve(%q) = %+v, want %+v", tt.ref, got, image)
					}
				})
			}
		})
	}
}

func TestOnResponse(t *testing.T) {
	host := startRegistry(t, true)
	pushImage(t, host, "app", "v1", "metrics")

	var mu sync.Mutex
	counts := map[string]int{}
	c := newClient(t, oci.Options{
		// The host is reported as the configured pattern it matched.
		Hosts: []oci.HostSettings{{Patterns: []string{"127.0.0.1:*"}}},
		OnResponse: func(h string, status int) {
			mu.Lock()
			defer mu.Unlock()
			counts[fmt.Sprintf("%s %d", h, status)]++
		}})
	if _, err := c.Resolve(t.Context(), host+"/app:v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Resolve(t.Context(), host+"/app:nope"); err == nil {
		t.Fatal("Resolve(app:nope) error = nil, want not found")
	}
	mu.Lock()
	defer mu.Unlock()
	// The found tag costs one HEAD (200); the missing one a HEAD (404) and
	// the tag-list probe that tells a missing tag from a missing
	// repository (200: the repository exists).
	want := map[string]int{"127.0.0.1:* 200": 2, "127.0.0.1:* 404": 1}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("OnResponse counts (-want +got):\n%s", diff)
	}

	// A host no pattern matches is reported as "other".
	clear(counts)
	unconfigured := newClient(t, oci.Options{OnResponse: func(h string, status int) {
		mu.Lock()
		defer mu.Unlock()
		counts[fmt.Sprintf("%s %d", h, status)]++
	}})
	mu.Unlock()
	if _, err := unconfigured.Resolve(t.Context(), host+"/app:v1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if diff := cmp.Diff(map[string]int{oci.OtherHost + " 200": 1}, counts); diff != "" {
		t.Errorf("OnResponse counts for an unconfigured host (-want +got):\n%s", diff)
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(quietRegistry())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ref := hostOf(srv) + "/app:v1"
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())

	tests := []struct {
		name    string
		opts    oci.Options
		wantErr error
	}{
		// The registry is empty: reaching it shows as ErrNotFound.
		{"system roots refuse the test CA", oci.Options{}, oci.ErrTLS},
		{"custom root", oci.Options{RootCAs: pool}, oci.ErrNotFound},
		{"skip verify", oci.Options{InsecureSkipTLSVerify: true}, oci.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.CredentialsStore = credentials.NewMemoryStore()
			tt.opts.MaxRetries = -1
			c, err := oci.New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Resolve(t.Context(), ref)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Resolve() error = %v, want %v", err, tt.wantErr)
			}
			if oci.IsTransient(err) {
				t.Errorf("IsTransient(%v) = true, want false", err)
			}
		})
	}

	t.Run("HTTPS to a plain HTTP registry", func(t *testing.T) {
		host := startRegistry(t, false)
		c, err := oci.New(oci.Options{CredentialsStore: credentials.NewMemoryStore(), MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Resolve(t.Context(), host+"/app:v1")
		if !errors.Is(err, oci.ErrTLS) || !strings.Contains(err.Error(), "plain HTTP") {
			t.Fatalf("Resolve() error = %v, want ErrTLS saying plain HTTP", err)
		}
	})

	t.Run("plain HTTP per host", func(t *testing.T) {
		host := startRegistry(t, false)
		pushImage(t, host, "app", "v1", "plain")
		c, err := oci.New(oci.Options{
			CredentialsStore: credentials.NewMemoryStore(),
			Hosts:            []oci.HostSettings{{Patterns: []string{host}, PlainHTTP: true}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Resolve(t.Context(), host+"/app:v1"); err != nil {
			t.Fatalf("Resolve() error = %v", err)
		}
	})
}

func TestNewRejectsConflicts(t *testing.T) {
	_, err := oci.New(oci.Options{
		HTTPClient:            &http.Client{},
		InsecureSkipTLSVerify: true,
		CredentialsStore:      credentials.NewMemoryStore(),
	})
	if err == nil {
		t.Fatal("New(HTTPClient + InsecureSkipTLSVerify) error = nil, want an error")
	}
}

// requestCounter counts the requests a client sends.
type requestCounter struct {
	mu   sync.Mutex
	reqs []string
}

func (c *requestCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (c *requestCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.reqs
	c.reqs = nil
	return out
}

func TestFetchTagged(t *testing.T) {
	host := startRegistry(t, true)
	image := pushImage(t, host, "app", "v1", "fetch tagged")
	counter := &requestCounter{}
	c := newClient(t, oci.Options{HTTPClient: &http.Client{Transport: counter}})
	want, err := c.FetchManifest(t.Context(), host+"/app:v1", image, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	counter.take()

	tests := []struct {
		name    string
		ref     string
		limit   int64
		wantErr error
		errText string
	}{
		{name: "tag", ref: host + "/app:v1", limit: 1 << 20},
		{name: "digest", ref: host + "/app@" + image.Digest.String(), limit: 1 << 20},
		{name: "exactly the limit", ref: host + "/app:v1", limit: image.Size},
		{name: "missing tag", ref: host + "/app:nope", limit: 1 << 20, wantErr: oci.ErrNotFound, errText: `"nope" not found`},
		{name: "missing repository", ref: host + "/nothing:v1", limit: 1 << 20, wantErr: oci.ErrNotFound},
		{name: "over the limit", ref: host + "/app:v1", limit: image.Size - 1, wantErr: oci.ErrTooLarge, errText: "more than the"},
		{name: "no tag", ref: host + "/app", limit: 1 << 20, wantErr: oci.ErrInvalidReference, errText: "has no tag or digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc, data, err := c.FetchTagged(t.Context(), tt.ref, tt.limit)
			reqs := counter.take()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("FetchTagged(%q) error = %v, want %v containing %q", tt.ref, err, tt.wantErr, tt.errText)
				}
				if data != nil {
					t.Errorf("FetchTagged(%q) returned %d bytes with its error", tt.ref, len(data))
				}
			} else {
				if err != nil {
					t.Fatalf("FetchTagged(%q) error = %v", tt.ref, err)
				}
				if desc.Digest != image.Digest || desc.Size != image.Size || desc.MediaType != image.MediaType || string(data) != string(want) {
					t.Errorf("FetchTagged(%q) = %+v, %d bytes; want %+v, %d bytes", tt.ref, desc, len(data), image, len(want))
				}
			}
			// One GET, whatever the answer: a missing tag is not explained.
			if len(reqs) > 1 || len(reqs) == 1 && !strings.HasPrefix(reqs[0], "GET ") {
				t.Errorf("FetchTagged(%q) sent %q, want at most one GET", tt.ref, reqs)
			}
		})
	}
}

// TestFetchTaggedChecksTheBytes: the bytes must be those the registry
// names, whether it states their digest or leaves it to be computed.
func TestFetchTaggedChecksTheBytes(t *testing.T) {
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}`)
	other := []byte(`{"schemaVersion":2}`)
	tests := []struct {
		name   string
		header string // Docker-Content-Digest
		ref    string // tag or digest
		ok     bool
	}{
		{name: "stated digest", header: digestOf(body), ref: ":v1", ok: true},
		{name: "no stated digest", ref: ":v1", ok: true},
		{name: "stated digest of other bytes", header: digestOf(other), ref: ":v1"},
		{name: "digest asked, other bytes sent", header: digestOf(other), ref: "@" + digestOf(body)},
		{name: "digest asked, no digest stated, other bytes sent", ref: "@" + digestOf(other)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if tt.header != "" {
					w.Header().Set("Docker-Content-Digest", tt.header)
				}
				w.Write(body)
			}))
			t.Cleanup(srv.Close)
			c := newClient(t, oci.Options{})
			ref := strings.TrimPrefix(srv.URL, "http://") + "/app" + tt.ref
			_, data, err := c.FetchTagged(t.Context(), ref, 1<<20)
			if tt.ok != (err == nil) {
				t.Fatalf("FetchTagged(%q) error = %v, want ok %v", ref, err, tt.ok)
			}
			if tt.ok && string(data) != string(body) {
				t.Errorf("FetchTagged(%q) = %q, want %q", ref, data, body)
			}
			if !tt.ok && data != nil {
				t.Errorf("FetchTagged(%q) returned bytes with its error", ref)
			}
		})
	}
}

func digestOf(b []byte) string { return digest.FromBytes(b).String() }
