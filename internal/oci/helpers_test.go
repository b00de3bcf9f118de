package oci_test

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// modes runs every registry scenario against a registry with the referrers
// API and one without, where clients fall back to the referrers tag schema.
var modes = []struct {
	name      string
	referrers bool
}{
	{"referrers-api", true},
	{"tag-schema", false},
}

// startRegistry starts a dev registry and returns its host.
func startRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	reg, err := devregistry.Start(t.Context(), devregistry.Options{Referrers: referrers})
	if err != nil {
		t.Fatalf("devregistry.Start() error = %v", err)
	}
	t.Cleanup(func() { _ = reg.Close() })
	return reg.Host()
}

// pushImage pushes a sample image tagged tag to host/repo.
func pushImage(t *testing.T, host, repo, tag, label string) ocispec.Descriptor {
	t.Helper()
	desc, err := devregistry.PushSampleImage(t.Context(), host, repo, tag, label)
	if err != nil {
		t.Fatalf("PushSampleImage() error = %v", err)
	}
	return desc
}

// newClient returns a plain-HTTP client with an empty credential store, so
// tests never read the developer's docker config, and without retries, so
// failures come back at once.
func newClient(t *testing.T, opts oci.Options) *oci.Client {
	t.Helper()
	opts.PlainHTTP = true
	if opts.CredentialsStore == nil {
		opts.CredentialsStore = credentials.NewMemoryStore()
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = -1
	}
	c, err := oci.New(opts)
	if err != nil {
		t.Fatalf("oci.New() error = %v", err)
	}
	return c
}

// hostOf returns the host:port of an httptest server.
func hostOf(srv *httptest.Server) string {
	return strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
}

// quietRegistry is go-containerregistry's registry without request logs.
func quietRegistry() http.Handler {
	return registry.New(registry.Logger(log.New(io.Discard, "", 0)))
}
