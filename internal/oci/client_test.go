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
