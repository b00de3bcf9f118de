package cosign_test

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// gatedTransport records requests as "METHOD PATH" and, while armed, runs
// before each the function of its kind.
type gatedTransport struct {
	armed atomic.Bool
	on    func(r *http.Request)
	mu    sync.Mutex
	reqs  []string
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if g.armed.Load() {
		g.mu.Lock()
		g.reqs = append(g.reqs, r.Method+" "+r.URL.Path)
		g.mu.Unlock()
		g.on(r)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestDiscoveryRoundTrips: a cold cosign verification of a digest
// reference reads the image's manifest, its .sig manifest and its
// referrers at the same time, and the .sig manifest with one GET, so that
// it costs two round trips (those, then the signature's payload) where it
// cost five (the manifest, a HEAD and a GET of the .sig tag, the
// referrers, the payload, one after the other). With and without the
// referrers API.
func TestDiscoveryRoundTrips(t *testing.T) {
	for _, api := range []bool{true, false} {
		name := "referrers API"
		if !api {
			name = "referrers tag"
		}
		t.Run(name, func(t *testing.T) {
			reg, err := devregistry.Start(t.Context(), devregistry.Options{Referrers: api})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close() })
			listed, sigRead := verifytest.NewGate(), verifytest.NewGate()
			var image string // the digest of the image verified cold
			tr := &gatedTransport{on: func(r *http.Request) {
				p := r.URL.Path
				switch {
				case strings.HasSuffix(p, ".sig"):
					sigRead.Open()
					listed.Hold()
				case strings.Contains(p, "/referrers/") || strings.Contains(p, "/manifests/sha256-"):
					listed.Open()
				case strings.HasSuffix(p, "/manifests/"+image):
					sigRead.Hold()
				}
			}}
			client, err := oci.New(oci.Options{PlainHTTP: true, ConfigPath: "/nonexistent", HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				t.Fatal(err)
			}
			r := testRegistry{host: reg.Host(), client: client}
			key, ck, _ := newKey(t)
			v, err := cosign.NewVerifier([]cosign.Policy{{Name: "p", Scopes: []string{"*"}, Keys: []cosign.Key{ck}}}, client, cosign.Options{})
			if err != nil {
				t.Fatal(err)
			}
			sign := func(label string) string {
				img := r.pushImage(t, "app", label)
				ref := r.host + "/app@" + img.Digest.String()
				r.pushSimpleSignatures(t, "app", img, keyedSig(t, key, r.host+"/app", img.Digest))
				return ref
			}
			// The first image meets the registry (the referrers API probe).
			if res := v.Verify(t.Context(), sign("warm")); !res.Verified {
				t.Fatalf("first image: %s", res.Reason)
			}
			ref := sign("cold")
			_, image, _ = strings.Cut(ref, "@")
			tr.armed.Store(true)
			res := v.Verify(t.Context(), ref)
			tr.armed.Store(false)
			if !res.Verified {
				t.Fatalf("not verified: %s", res.Reason)
			}
			reqs := strings.Join(tr.reqs, "\n")
			if !listed.Met() {
				t.Errorf("the referrers were listed only after the .sig manifest was read: a round trip more than needed\n%s", reqs)
			}
			if !sigRead.Met() {
				t.Errorf("the .sig manifest was read only after the image manifest: a round trip more than needed\n%s", reqs)
			}
			if slices.ContainsFunc(tr.reqs, func(s string) bool { return strings.HasPrefix(s, "HEAD ") && strings.HasSuffix(s, ".sig") }) {
				t.Errorf("the .sig tag was resolved before it was read: a round trip more than needed\n%s", reqs)
			}
			// The image manifest, the .sig manifest, the listing, the
			// payload.
			if len(tr.reqs) != 4 {
				t.Errorf("%d registry requests, want 4:\n%s", len(tr.reqs), reqs)
			}
		})
	}
}

// TestMissingImageFails: the read of the image's manifest, sent beside the
// discovery, still decides. A digest reference whose manifest the registry
// does not hold fails as not found, even with a .sig manifest whose
// signature would verify.
func TestMissingImageFails(t *testing.T) {
	r := startRegistry(t, false)
	key, ck, _ := newKey(t)
	v, err := cosign.NewVerifier([]cosign.Policy{{Name: "p", Scopes: []string{"*"}, Keys: []cosign.Key{ck}}}, r.client, cosign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.pushImage(t, "app", "present")
	missing := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("never pushed"), Size: 12}
	r.pushSimpleSignatures(t, "app", missing, keyedSig(t, key, r.host+"/app", missing.Digest))
	res := v.Verify(t.Context(), r.host+"/app@"+missing.Digest.String())
	if res.Verified || res.Code != verify.CodeImageNotFound {
		t.Fatalf("verified %v, code %s (%s); want %s", res.Verified, res.Code, res.Reason, verify.CodeImageNotFound)
	}
	if !strings.Contains(res.Reason, "not found") {
		t.Errorf("reason %q does not say the manifest is missing", res.Reason)
	}
}
