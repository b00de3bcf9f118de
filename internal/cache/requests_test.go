package cache_test

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
	"github.com/hallmark-dev/hallmark/internal/verify/kinds"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
	"github.com/hallmark-dev/hallmark/internal/verify/verifytest"
)

// requestLog records the registry requests a client sends, as "METHOD
// PATH".
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
	l.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// take returns the requests recorded since the last take.
func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// pipeline is the production composition of the admission server: an
// oci.Client, the Notary Project engine behind the result cache, which
// resolves tags, against the in-process registry.
type pipeline struct {
	host   string
	client *oci.Client
	engine *verify.Engine
	log    *requestLog
	sign   func(t *testing.T, ref string)
	images int
}

func newPipeline(t *testing.T, referrersAPI bool) *pipeline {
	t.Helper()
	ctx := t.Context()
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: referrersAPI})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	p := &pipeline{host: reg.Host(), log: &requestLog{}}
	p.client, err = oci.New(oci.Options{PlainHTTP: true, HTTPClient: &http.Client{Transport: p.log}, CredentialsStore: credentials.NewMemoryStore()})
	if err != nil {
		t.Fatal(err)
	}
	root := verifytest.NewRootCA(t, "Acme Root")
	key, leaf := root.ValidLeaf(t, "builder")
	store := tstore.New()
	if err := store.Add(truststore.TypeCA, "prod", root.Cert); err != nil {
		t.Fatal(err)
	}
	policy := &trustpolicy.Document{Version: "1.0", TrustPolicies: []trustpolicy.TrustPolicy{{
		Name: "all", RegistryScopes: []string{"*"},
		SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "strict"},
		TrustStores:           []string{"ca:prod"}, TrustedIdentities: []string{"*"},
	}}}
	p.engine, err = verify.NewEngine(policy, store, oci.Repositories{Client: p.client}, verify.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.sign = func(t *testing.T, ref string) {
		t.Helper()
		repo, err := p.client.NotationRepository(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := signing.Sign(ctx, key, []*x509.Certificate{leaf, root.Cert}, repo, ref, signing.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// push pushes a fresh image tagged tag into repository app and returns its
// digest reference.
func (p *pipeline) push(t *testing.T, tag string) string {
	t.Helper()
	p.images++
	desc, err := devregistry.PushSampleImage(t.Context(), p.host, "app", tag, fmt.Sprintf("image %d", p.images))
	if err != nil {
		t.Fatal(err)
	}
	return p.host + "/app@" + desc.Digest.String()
}

// imageReads counts the requests that read the image's own manifest (by
// tag or by digest), as opposed to its signatures'.
func imageReads(reqs []string, tag, digest string) int {
	n := 0
	for _, r := range reqs {
		if strings.HasSuffix(r, "/manifests/"+tag) || strings.HasSuffix(r, "/manifests/"+digest) {
			n++
		}
	}
	return n
}

// TestTagCostsFourRequests counts what a cold verification of a tag
// reference sends through the cache to the registry: the resolve of the tag
// (which keys the cache entry by digest), the signature listing, the
// signature manifest and its envelope. The descriptor the resolve returned
// is what the engine verifies the signature against; the manifest is not
// read again by digest.
func TestTagCostsFourRequests(t *testing.T) {
	for _, api := range []bool{true, false} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) {
			p := newPipeline(t, api)
			c := cache.New(p.engine, cache.Options{Resolver: p.client})
			// The first image meets the registry (the referrers API probe).
			warm := p.push(t, "warm")
			p.sign(t, warm)
			if r := c.Verify(t.Context(), p.host+"/app:warm"); !r.Verified {
				t.Fatalf("first image: %s", r.Reason)
			}
			ref := p.push(t, "v1")
			p.sign(t, ref)
			p.log.take()
			r := c.Verify(t.Context(), p.host+"/app:v1")
			reqs := p.log.take()
			if !r.Verified {
				t.Fatalf("not verified: %s", r.Reason)
			}
			if want := p.host + "/app@" + r.Digest; want != ref {
				t.Fatalf("verified %s, want %s", want, ref)
			}
			if len(reqs) != 4 {
				t.Errorf("%d registry requests for a tag, want 4 (resolve, listing, signature manifest, envelope):\n%s", len(reqs), strings.Join(reqs, "\n"))
			}
			if n := imageReads(reqs, "v1", r.Digest); n != 1 {
				t.Errorf("the image manifest was read %d times, want once:\n%s", n, strings.Join(reqs, "\n"))
			}

			// The tag moves to an unsigned image: the cache resolves it
			// again and the verdict is about the new digest, a failure.
			moved := p.push(t, "v1")
			r = c.Verify(t.Context(), p.host+"/app:v1")
			if r.Verified || p.host+"/app@"+r.Digest != moved || r.Code != verify.CodeNoSignature {
				t.Fatalf("after the tag moved to unsigned %s: verified %v, digest %s, code %s", moved, r.Verified, r.Digest, r.Code)
			}
		})
	}
}

// TestKindsResolveOnce checks that with signature kinds "any", where both
// verifiers look at an image without a passing Notary Project signature,
// the image manifest is read once: by the cache's resolve for a tag behind
// the cache, by the first verifier for a tag without the cache; and its
// referrers are listed once, for both verifiers. With and without the
// referrers API.
func TestKindsResolveOnce(t *testing.T) {
	for _, api := range []bool{false, true} {
		t.Run(fmt.Sprintf("referrers API %v", api), func(t *testing.T) { testKindsResolveOnce(t, api) })
	}
}

func testKindsResolveOnce(t *testing.T, api bool) {
	p := newPipeline(t, api)
	k := verifytest.NewKey(t)
	cv, err := cosign.NewVerifier([]cosign.Policy{{Name: "c", Scopes: []string{"*"}, Keys: []cosign.Key{{Public: &k.PublicKey}}}}, p.client, cosign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	combined, err := kinds.New(p.engine, cv, nil, kinds.Any)
	if err != nil {
		t.Fatal(err)
	}
	warm := p.push(t, "warm")
	p.sign(t, warm)
	if r := combined.Verify(t.Context(), warm); !r.Verified {
		t.Fatalf("first image: %s", r.Reason)
	}
	for _, tc := range []struct {
		name string
		v    cache.Verifier
	}{
		{"behind the cache", cache.New(combined, cache.Options{Resolver: p.client})},
		{"without the cache", combined},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := strings.ReplaceAll(tc.name, " ", "-")
			ref := p.push(t, tag) // signed by neither kind
			_, digest, _ := strings.Cut(ref, "@")
			p.log.take()
			r := tc.v.Verify(t.Context(), p.host+"/app:"+tag)
			reqs := p.log.take()
			if r.Verified || r.Digest != digest {
				t.Fatalf("verified %v, digest %s; want a failure for %s", r.Verified, r.Digest, digest)
			}
			if n := imageReads(reqs, tag, digest); n != 1 {
				t.Errorf("the image manifest was read %d times, want once:\n%s", n, strings.Join(reqs, "\n"))
			}
			if !slices.ContainsFunc(reqs, func(s string) bool { return strings.HasSuffix(s, ".sig") }) {
				t.Errorf("cosign signatures were not looked for:\n%s", strings.Join(reqs, "\n"))
			}
			// The missing .sig tag is an answer: no request to explain it.
			if slices.ContainsFunc(reqs, func(s string) bool { return strings.HasSuffix(s, "/tags/list") }) {
				t.Errorf("the missing cosign signature tag cost a tag listing:\n%s", strings.Join(reqs, "\n"))
			}
			// One listing of the referrers (the API, or the referrers tag
			// index) serves both verifiers.
			listings := 0
			for _, r := range reqs {
				if strings.Contains(r, "/referrers/") || strings.Contains(r, "/manifests/sha256-") && !strings.HasSuffix(r, ".sig") {
					listings++
				}
			}
			if listings != 1 {
				t.Errorf("the referrers were listed %d times, want once:\n%s", listings, strings.Join(reqs, "\n"))
			}
		})
	}
}
