package verify

import (
	"context"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-core-go/signature/jws"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"

	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

// TestEngineFetchesConcurrently checks the requests a cold verification of
// a digest reference sends and that the independent ones overlap: the
// signature listing does not wait for the image manifest (so a digest
// reference costs three registry round trips, not four), and the envelopes
// of an image's signatures are fetched together (so an image whose first
// signature does not verify costs no round trip more than one whose first
// does). With and without the referrers API.
func TestEngineFetchesConcurrently(t *testing.T) {
	for _, api := range []bool{true, false} {
		name := "referrers API"
		if !api {
			name = "referrers tag"
		}
		t.Run(name, func(t *testing.T) {
			var (
				gated              atomic.Bool
				listed, secondBlob = verifytest.NewGate(), verifytest.NewGate()
				mu                 sync.Mutex
				requests           []string
				blobs              atomic.Int32
			)
			h := registry.New(registry.WithReferrersSupport(api), registry.Logger(log.New(io.Discard, "", 0)))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if gated.Load() {
					mu.Lock()
					requests = append(requests, r.Method+" "+r.URL.Path)
					mu.Unlock()
					switch {
					case strings.Contains(r.URL.Path, "/referrers/") || strings.Contains(r.URL.Path, "/manifests/sha256-"):
						listed.Open()
					case strings.Contains(r.URL.Path, "/manifests/sha256:") && r.Method == http.MethodHead:
						// The resolve of the image's digest.
						listed.Hold()
					case strings.Contains(r.URL.Path, "/blobs/"):
						if blobs.Add(1) == 1 {
							secondBlob.Hold()
						} else {
							secondBlob.Open()
						}
					}
				}
				h.ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			reg := &testRegistry{host: strings.TrimPrefix(srv.URL, "http://")}

			root, other := verifytest.NewRootCA(t, "Acme Root"), verifytest.NewRootCA(t, "Mallory Root")
			store := tstore.New()
			if err := store.Add(truststore.TypeCA, "prod", root.Cert); err != nil {
				t.Fatal(err)
			}
			e, err := NewEngine(fixturePolicy(reg.host), store, plainHTTPRepositories{}, EngineOptions{})
			if err != nil {
				t.Fatal(err)
			}
			img := reg.pushImage(t, "multi-pass", "v1", "concurrent")
			badKey, badLeaf := other.ValidLeaf(t, "builder")
			key, leaf := root.ValidLeaf(t, "builder")
			// The untrusted signature first (in the referrers tag's order).
			reg.sign(t, "multi-pass", img, badKey, []*x509.Certificate{badLeaf, other.Cert}, jws.MediaTypeEnvelope)
			reg.sign(t, "multi-pass", img, key, []*x509.Certificate{leaf, root.Cert}, cose.MediaTypeEnvelope)

			gated.Store(true)
			res := e.Verify(context.Background(), reg.ref("multi-pass", img))
			gated.Store(false)
			// The referrers API may list the trusted signature first; the
			// envelopes are fetched together either way.
			if !res.Verified {
				t.Fatalf("not verified: %s", res.Reason)
			}
			if !listed.Met() {
				t.Error("the signatures were listed only after the image manifest was read: one round trip more than needed")
			}
			if !secondBlob.Met() {
				t.Error("the second signature's envelope was fetched only after the first: one round trip more per signature")
			}
			// Resolve, the listing (the referrers tag schema after the
			// API's 404 when the registry lacks it), two signature
			// manifests, two envelopes.
			want := 6
			if !api {
				want = 7
			}
			if len(requests) != want {
				t.Errorf("%d registry requests, want %d:\n%s", len(requests), want, strings.Join(requests, "\n"))
			}
		})
	}
}

// TestVerifySubjectChecksTheDescriptor: a descriptor handed in replaces the
// read of the manifest, never a check. The signature must still cover its
// digest, size and media type, and a digest reference must name its digest.
func TestVerifySubjectChecksTheDescriptor(t *testing.T) {
	f := newFixture(t, false)
	img := f.images["valid-jws"]
	ref := f.reg.ref("valid-jws", img)
	other := f.images["valid-cose"] // signed too, in another repository

	wrongSize, wrongType := img, img
	wrongSize.Size++
	wrongType.MediaType = "application/vnd.oci.image.index.v1+json"
	for _, tc := range []struct {
		name    string
		ref     string
		subject ocispec.Descriptor
		want    Code
	}{
		{"as read", ref, img, CodeVerified},
		{"as read, for the tag", f.reg.host + "/valid-jws:v1", img, CodeVerified},
		{"another size than signed", ref, wrongSize, CodeDigestMismatch},
		{"another media type than signed", ref, wrongType, CodeDigestMismatch},
		{"another image than the reference names", ref, other, CodeError},
		{"another image than the tag names", f.reg.host + "/valid-jws:v1", other, CodeNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.subject
			r := f.engine.VerifySubject(context.Background(), tc.ref, &d)
			if r.Code != tc.want || r.Verified != (tc.want == CodeVerified) {
				t.Fatalf("code %s, verified %v (%s); want %s", r.Code, r.Verified, r.Reason, tc.want)
			}
		})
	}

	t.Run("an empty subject is filled in", func(t *testing.T) {
		var d ocispec.Descriptor
		if r := f.engine.VerifySubject(context.Background(), f.reg.host+"/valid-jws:v1", &d); !r.Verified {
			t.Fatalf("not verified: %s", r.Reason)
		}
		if d.Digest != img.Digest || d.Size != img.Size || d.MediaType != img.MediaType {
			t.Fatalf("subject %+v, want %+v", d, img)
		}
	})
}
