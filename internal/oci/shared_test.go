package oci_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

const bundleType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// isListing reports whether a request lists referrers: the API, or the
// referrers tag index of a registry without it.
func isListing(r string) bool {
	return strings.Contains(r, "/referrers/") || strings.Contains(r, "/manifests/sha256-")
}

func countListings(reqs []string) int {
	n := 0
	for _, r := range reqs {
		if isListing(r) {
			n++
		}
	}
	return n
}

// TestSharedListings: under WithSharedListings the Notary Project listing
// and the cosign verifier's unfiltered one read the registry once, and each
// gets what it would have got alone: the signatures of its artifact type,
// every referrer. Without it, each lists.
func TestSharedListings(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			host := startRegistry(t, mode.referrers)
			subject := pushImage(t, host, "app", "v1", "shared")
			counter := &requestCounter{}
			c := newClient(t, oci.Options{HTTPClient: &http.Client{Transport: counter}})
			repo, err := c.Repository(t.Context(), host+"/app")
			if err != nil {
				t.Fatal(err)
			}
			sig := packReferrer(t, repo, subject, oci.ArtifactTypeSignature, true)
			bundle := packReferrer(t, repo, subject, bundleType, false)
			ref := host + "/app@" + subject.Digest.String()

			list := func(ctx context.Context) (sigs, all []ocispec.Descriptor) {
				t.Helper()
				n, err := c.NotationRepository(ctx, ref)
				if err != nil {
					t.Fatal(err)
				}
				if err := n.ListSignatures(ctx, subject, func(page []ocispec.Descriptor) error {
					sigs = append(sigs, page...)
					return nil
				}); err != nil {
					t.Fatalf("ListSignatures: %v", err)
				}
				if all, err = c.Referrers(ctx, ref, subject, ""); err != nil {
					t.Fatalf("Referrers: %v", err)
				}
				return sigs, all
			}
			// Meet the registry (the referrers API probe) first.
			list(t.Context())
			for _, shared := range []bool{false, true} {
				ctx := t.Context()
				want := 2
				if shared {
					ctx, want = oci.WithSharedListings(ctx), 1
				}
				counter.take()
				sigs, all := list(ctx)
				if n := countListings(counter.take()); n != want {
					t.Errorf("shared %v: %d listings, want %d", shared, n, want)
				}
				if len(sigs) != 1 || sigs[0].Digest != sig.Digest {
					t.Errorf("shared %v: Notary Project signatures %v, want %s only", shared, sigs, sig.Digest)
				}
				if len(all) != 2 || !hasDigest(all, sig.Digest) || !hasDigest(all, bundle.Digest) {
					t.Errorf("shared %v: referrers %v, want the signature and the bundle", shared, all)
				}
				// Filtered too, as a registry filters.
				if bundles, err := c.Referrers(ctx, ref, subject, bundleType); err != nil || len(bundles) != 1 || bundles[0].Digest != bundle.Digest {
					t.Errorf("shared %v: bundles %v, %v; want the bundle", shared, bundles, err)
				}
			}
		})
	}
}

func hasDigest(descs []ocispec.Descriptor, d digest.Digest) bool {
	for _, x := range descs {
		if x.Digest == d {
			return true
		}
	}
	return false
}

// TestSharedListingLimits: a shared listing never changes an answer. A
// registry failure is each caller's failure, as each would have met it
// (and the registry is asked once);
// an image with more referrers than a listing takes is listed by each
// caller on its own, as without sharing: the Notary Project listing,
// which the registry filters, still finds the signature.
func TestSharedListingLimits(t *testing.T) {
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("image"), Size: 5}
	sig := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("signature"), Size: 9, ArtifactType: oci.ArtifactTypeSignature}
	many := []ocispec.Descriptor{sig}
	for i := range 1000 {
		many = append(many, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(fmt.Sprint(i)), Size: 1, ArtifactType: "application/vnd.example.sbom"})
	}
	var failing atomic.Bool
	var listings atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.URL.Path, "/referrers/") {
			http.NotFound(w, r)
			return
		}
		listings.Add(1)
		if failing.Load() {
			http.Error(w, `{"errors":[{"code":"UNKNOWN","message":"down"}]}`, http.StatusInternalServerError)
			return
		}
		descs := many
		if at := r.URL.Query().Get("artifactType"); at != "" {
			descs = nil
			for _, d := range many {
				if d.ArtifactType == at {
					descs = append(descs, d)
				}
			}
			w.Header().Set("OCI-Filters-Applied", "artifactType")
		}
		w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
		json.NewEncoder(w).Encode(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: descs})
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, oci.Options{})
	ref := hostOf(srv) + "/app@" + subject.Digest.String()

	ctx := oci.WithSharedListings(t.Context())
	n, err := c.NotationRepository(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []ocispec.Descriptor
	if err := n.ListSignatures(ctx, subject, func(page []ocispec.Descriptor) error { sigs = append(sigs, page...); return nil }); err != nil {
		t.Fatalf("ListSignatures with 1001 referrers: %v", err)
	}
	if len(sigs) != 1 || sigs[0].Digest != sig.Digest {
		t.Errorf("ListSignatures with 1001 referrers = %v, want the signature", sigs)
	}
	if _, err := c.Referrers(ctx, ref, subject, ""); !errors.Is(err, oci.ErrTooLarge) {
		t.Errorf("Referrers with 1001 referrers: %v, want ErrTooLarge as without sharing", err)
	}

	failing.Store(true)
	listings.Store(0)
	ctx = oci.WithSharedListings(t.Context())
	if err := n.ListSignatures(ctx, subject, func([]ocispec.Descriptor) error { return nil }); err == nil || !oci.IsTransient(err) {
		t.Errorf("ListSignatures from a failing registry: %v, want a transient error", err)
	}
	if _, err := c.Referrers(ctx, ref, subject, ""); err == nil || !oci.IsTransient(err) {
		t.Errorf("Referrers from a failing registry: %v, want a transient error", err)
	}
	if n := listings.Load(); n != 1 {
		t.Errorf("the failing registry was asked %d times for one shared listing, want once", n)
	}
}
