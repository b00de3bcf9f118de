package cache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/registryname"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// fakeVerifier is the seam under the cache: it counts calls per reference
// and answers with what outcome says.
type fakeVerifier struct {
	mu    sync.Mutex
	calls map[string]int
	refs  []string
	// outcome makes the result for ref; nil means verified.
	outcome func(ctx context.Context, ref string) verify.Result
}

func newFake(outcome func(ctx context.Context, ref string) verify.Result) *fakeVerifier {
	return &fakeVerifier{calls: map[string]int{}, outcome: outcome}
}

func (f *fakeVerifier) Verify(ctx context.Context, ref string) verify.Result {
	f.mu.Lock()
	f.calls[ref]++
	f.refs = append(f.refs, ref)
	f.mu.Unlock()
	if f.outcome == nil {
		return passed(ref)
	}
	return f.outcome(ctx, ref)
}

func (f *fakeVerifier) count(ref string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[ref]
}

func (f *fakeVerifier) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.refs)
}

// digestOf returns the digest in ref, as the engine reports it.
func digestOf(ref string) string {
	if _, d, ok := strings.Cut(ref, "@"); ok {
		return d
	}
	return ""
}

func passed(ref string) verify.Result {
	return verify.Result{Reference: ref, Digest: digestOf(ref), Verified: true, Code: verify.CodeVerified, Reason: "verified", Level: "strict", Policy: "p"}
}

func failed(ref string, code verify.Code, transient bool) verify.Result {
	return verify.Result{Reference: ref, Digest: digestOf(ref), Code: code, Transient: transient, Reason: "failed: " + string(code)}
}

func dg(i int) string { return digest.FromString(fmt.Sprint(i)).String() }

func img(repo string, i int) string { return "registry.example/" + repo + "@" + dg(i) }

// fakeResolver maps tag references to digests.
type fakeResolver struct {
	mu    sync.Mutex
	tags  map[string]string
	err   error
	calls int
}

func (r *fakeResolver) Resolve(_ context.Context, ref string) (ocispec.Descriptor, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.err != nil {
		return ocispec.Descriptor{}, r.err
	}
	d, ok := r.tags[ref]
	if !ok {
		return ocispec.Descriptor{}, &oci.Error{Kind: oci.ErrNotFound, Summary: "tag not found"}
	}
	return ocispec.Descriptor{Digest: digest.Digest(d)}, nil
}

func (r *fakeResolver) move(ref, d string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tags[ref] = d
}

func TestTTLs(t *testing.T) {
	tests := []struct {
		name    string
		outcome func(context.Context, string) verify.Result
		opts    Options
		ttl     time.Duration
	}{
		{name: "verified kept for the default positive TTL", ttl: DefaultPositiveTTL},
		{name: "verified kept for a set positive TTL", opts: Options{PositiveTTL: time.Hour}, ttl: time.Hour},
		{
			name:    "definitive failure kept for the default negative TTL",
			outcome: func(_ context.Context, ref string) verify.Result { return failed(ref, verify.CodeNoSignature, false) },
			ttl:     DefaultNegativeTTL,
		},
		{
			name: "untrusted signer kept for a set negative TTL",
			outcome: func(_ context.Context, ref string) verify.Result {
				return failed(ref, verify.CodeUntrustedSigner, false)
			},
			opts: Options{NegativeTTL: 7 * time.Second},
			ttl:  7 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(tt.outcome)
				c := New(f, tt.opts)
				ref := img("app", 1)
				first := c.Verify(t.Context(), ref)
				if first.Cached {
					t.Fatal("first result marked cached")
				}
				time.Sleep(tt.ttl - time.Nanosecond)
				again := c.Verify(t.Context(), ref)
				if !again.Cached || f.count(ref) != 1 {
					t.Fatalf("before the TTL: cached=%v, verifier calls=%d; want a hit and 1 call", again.Cached, f.count(ref))
				}
				if again.Verified != first.Verified || again.Code != first.Code || again.Reason != first.Reason {
					t.Fatalf("cached result %+v differs from the verified one %+v", again, first)
				}
				time.Sleep(time.Nanosecond)
				expired := c.Verify(t.Context(), ref)
				if expired.Cached || f.count(ref) != 2 {
					t.Fatalf("at the TTL: cached=%v, verifier calls=%d; want a fresh verification", expired.Cached, f.count(ref))
				}
			})
		})
	}
}

func TestNotDefinitiveNeverCached(t *testing.T) {
	tests := []struct {
		name   string
		result func(ref string) verify.Result
	}{
		{"transient registry failure", func(ref string) verify.Result { return failed(ref, verify.CodeRegistryUnavailable, true) }},
		{"timeout", func(ref string) verify.Result { return failed(ref, verify.CodeTimeout, true) }},
		{"timeout not flagged transient", func(ref string) verify.Result { return failed(ref, verify.CodeTimeout, false) }},
		{"registry unavailable not flagged transient", func(ref string) verify.Result { return failed(ref, verify.CodeRegistryUnavailable, false) }},
		{"revocation unknown", func(ref string) verify.Result { return failed(ref, verify.CodeRevocationUnknown, false) }},
		{"unexpected error", func(ref string) verify.Result { return failed(ref, verify.CodeError, false) }},
		{"no code", func(ref string) verify.Result { return failed(ref, "", false) }},
		{"transient with a definitive code", func(ref string) verify.Result { return failed(ref, verify.CodeNoSignature, true) }},
		{"verified but transient", func(ref string) verify.Result { r := passed(ref); r.Transient = true; return r }},
		{"verified flag with a failure code", func(ref string) verify.Result {
			r := failed(ref, verify.CodeUntrustedSigner, false)
			r.Verified = true
			return r
		}},
		{"verified code without the flag", func(ref string) verify.Result { r := passed(ref); r.Verified = false; return r }},
		{"verdict for another digest", func(ref string) verify.Result { r := passed(ref); r.Digest = dg(999); return r }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(func(_ context.Context, ref string) verify.Result { return tt.result(ref) })
				var hits, misses int
				c := New(f, Options{OnLookup: func(hit bool) {
					if hit {
						hits++
					} else {
						misses++
					}
				}})
				ref := img("app", 1)
				for i := range 3 {
					r := c.Verify(t.Context(), ref)
					if r.Cached {
						t.Fatalf("call %d: a result that is not definitive came from the cache", i)
					}
				}
				if f.count(ref) != 3 || c.Len() != 0 || hits != 0 || misses != 3 {
					t.Fatalf("verifier calls=%d entries=%d hits=%d misses=%d; want 3, 0, 0, 3", f.count(ref), c.Len(), hits, misses)
				}
			})
		})
	}
}

// TestFailureNeverServedAsPass: once a definitive failure is cached, every
// answer is that failure until it expires, even though the verifier would
// now pass the image; the pass shows up only as a fresh verification.
func TestFailureNeverServedAsPass(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		pass := false
		f := newFake(func(_ context.Context, ref string) verify.Result {
			mu.Lock()
			defer mu.Unlock()
			if pass {
				return passed(ref)
			}
			return failed(ref, verify.CodeNoSignature, false)
		})
		c := New(f, Options{NegativeTTL: 10 * time.Second})
		ref := img("app", 1)
		if r := c.Verify(t.Context(), ref); r.Verified {
			t.Fatal("first verification passed")
		}
		mu.Lock()
		pass = true // the signature was pushed
		mu.Unlock()
		for i := range 9 {
			time.Sleep(time.Second)
			r := c.Verify(t.Context(), ref)
			if r.Verified || r.Code != verify.CodeNoSignature || r.Err() == nil {
				t.Fatalf("second %d: cached failure served as %+v", i+1, r)
			}
		}
		time.Sleep(time.Second)
		r := c.Verify(t.Context(), ref)
		if !r.Verified || r.Cached {
			t.Fatalf("after the negative TTL: %+v; want a fresh pass", r)
		}
	})
}

func TestSingleflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := newFake(func(_ context.Context, ref string) verify.Result {
			<-release
			return passed(ref)
		})
		c := New(f, Options{})
		const callers = 50
		refs := []string{img("app", 1), img("app", 2)}
		results := make(chan verify.Result, callers*len(refs))
		for i := range callers * len(refs) {
			go func() { results <- c.Verify(context.Background(), refs[i%len(refs)]) }()
		}
		synctest.Wait()
		if got := f.total(); got != len(refs) {
			t.Fatalf("%d verifications running for %d distinct images", got, len(refs))
		}
		close(release)
		for range callers * len(refs) {
			if r := <-results; !r.Verified {
				t.Fatalf("caller got %+v", r)
			}
		}
		for _, ref := range refs {
			if f.count(ref) != 1 {
				t.Errorf("%s verified %d times, want once", ref, f.count(ref))
			}
		}
	})
}

// TestSingleflightRace runs real concurrency (no bubble) for -race.
func TestSingleflightRace(t *testing.T) {
	f := newFake(nil)
	c := New(f, Options{MaxEntries: 16})
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			for j := range 200 {
				r := c.Verify(context.Background(), img("app", (i+j)%32))
				if !r.Verified {
					t.Errorf("got %+v", r)
					return
				}
				r.Warnings = append(r.Warnings, "caller's own")
			}
		})
	}
	wg.Wait()
	if c.Len() > 16 {
		t.Fatalf("%d entries, bound is 16", c.Len())
	}
}

func TestCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sawCancel bool
		f := newFake(func(ctx context.Context, ref string) verify.Result {
			select {
			case <-time.After(2 * time.Second): // a slow registry
				return passed(ref)
			case <-ctx.Done():
				sawCancel = true
				return failed(ref, verify.CodeTimeout, true)
			}
		})
		c := New(f, Options{})
		ref := img("app", 1)

		short, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		patient := make(chan verify.Result)
		go func() { patient <- c.Verify(t.Context(), ref) }()
		synctest.Wait()

		start := time.Now()
		r := c.Verify(short, ref)
		if time.Since(start) != 500*time.Millisecond {
			t.Errorf("the impatient caller returned after %v, not at its deadline", time.Since(start))
		}
		if r.Verified || r.Code != verify.CodeTimeout || !r.Transient || r.Reference != ref || r.Digest != dg(1) {
			t.Fatalf("impatient caller: %+v; want a transient timeout for the reference", r)
		}
		if !strings.Contains(r.Reason, "registry.example/app") {
			t.Errorf("reason %q does not name the repository", r.Reason)
		}
		if r := <-patient; !r.Verified {
			t.Fatalf("patient caller: %+v", r)
		}
		if sawCancel {
			t.Fatal("the impatient caller's deadline cancelled the shared verification")
		}

		cancelled, cancel2 := context.WithCancel(t.Context())
		cancel2()
		if r := c.Verify(cancelled, img("app", 2)); r.Verified || r.Code != verify.CodeTimeout || !strings.Contains(r.Reason, "cancelled") {
			t.Fatalf("cancelled caller: %+v", r)
		}
		time.Sleep(3 * time.Second) // the detached verification (2s) still finishes
		if r := c.Verify(t.Context(), img("app", 2)); !r.Cached || !r.Verified {
			t.Fatalf("the verification its cancelled caller started was not kept: %+v", r)
		}
	})
}

func TestFinishedLateIsStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(func(_ context.Context, ref string) verify.Result {
			time.Sleep(3 * time.Second)
			return passed(ref)
		})
		c := New(f, Options{})
		ref := img("app", 1)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if r := c.Verify(ctx, ref); r.Verified {
			t.Fatal("verified before the verifier finished")
		}
		time.Sleep(5 * time.Second)
		if r := c.Verify(t.Context(), ref); !r.Verified || !r.Cached || f.count(ref) != 1 {
			t.Fatalf("retry after the late finish: %+v, calls %d; want a hit", r, f.count(ref))
		}
	})
}

func TestVerifyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(func(ctx context.Context, ref string) verify.Result {
			<-ctx.Done() // a registry that hangs
			return failed(ref, verify.CodeTimeout, true)
		})
		c := New(f, Options{VerifyTimeout: 4 * time.Second})
		ref := img("app", 1)
		start := time.Now()
		r := c.Verify(context.Background(), ref)
		if d := time.Since(start); d != 4*time.Second {
			t.Errorf("a caller without a deadline waited %v, want the VerifyTimeout", d)
		}
		if r.Verified || r.Code != verify.CodeTimeout {
			t.Fatalf("got %+v", r)
		}
		c.Verify(context.Background(), ref)
		if f.count(ref) != 2 {
			t.Fatalf("the timeout was cached: %d calls", f.count(ref))
		}
	})
}

func TestTags(t *testing.T) {
	const tagRef = "registry.example/app:v1"
	t.Run("resolved and cached by digest, never by tag", func(t *testing.T) {
		res := &fakeResolver{tags: map[string]string{tagRef: dg(1)}}
		f := newFake(nil)
		c := New(f, Options{Resolver: res})
		r := c.Verify(t.Context(), tagRef)
		if !r.Verified || r.Reference != tagRef || r.Tag != "v1" || r.Digest != dg(1) {
			t.Fatalf("got %+v; want the tag reference, its tag and digest", r)
		}
		if f.count(img("app", 1)) != 1 {
			t.Fatalf("verifier saw %v; want the digest reference", f.refs)
		}
		if r := c.Verify(t.Context(), tagRef); !r.Cached || r.Tag != "v1" || res.calls != 2 {
			t.Fatalf("second call: cached=%v tag=%q resolutions=%d; want a hit after resolving again", r.Cached, r.Tag, res.calls)
		}
		if r := c.Verify(t.Context(), img("app", 1)); !r.Cached || r.Tag != "" {
			t.Fatalf("digest reference: %+v; want a hit without a tag", r)
		}
		res.move(tagRef, dg(2))
		if r := c.Verify(t.Context(), tagRef); r.Cached || r.Digest != dg(2) || f.count(img("app", 2)) != 1 {
			t.Fatalf("after the tag moved: %+v; want a fresh verification of the new digest", r)
		}
	})
	t.Run("tag and digest written together use the digest", func(t *testing.T) {
		f := newFake(nil)
		res := &fakeResolver{}
		c := New(f, Options{Resolver: res})
		c.Verify(t.Context(), img("app", 1))
		ref := "registry.example/app:v1@" + dg(1)
		if r := c.Verify(t.Context(), ref); !r.Cached || r.Reference != ref {
			t.Fatalf("got %+v; want a hit", r)
		}
		if res.calls != 0 {
			t.Fatal("a reference with a digest was resolved")
		}
	})
	t.Run("resolution failure is passed to the verifier and not cached", func(t *testing.T) {
		res := &fakeResolver{err: &oci.Error{Kind: oci.ErrUnavailable, Summary: "registry down"}}
		f := newFake(func(_ context.Context, ref string) verify.Result {
			return failed(ref, verify.CodeRegistryUnavailable, true)
		})
		lookups := 0
		c := New(f, Options{Resolver: res, OnLookup: func(bool) { lookups++ }})
		for range 2 {
			if r := c.Verify(t.Context(), tagRef); r.Verified || !r.Transient || r.Reference != tagRef {
				t.Fatalf("got %+v", r)
			}
		}
		if f.count(tagRef) != 2 || c.Len() != 0 || lookups != 0 {
			t.Fatalf("verifier calls %d, entries %d, lookups %d; want 2, 0, 0", f.count(tagRef), c.Len(), lookups)
		}
	})
	t.Run("without a resolver tags bypass the cache", func(t *testing.T) {
		f := newFake(func(_ context.Context, ref string) verify.Result {
			r := passed(ref)
			r.Digest = dg(1)
			return r
		})
		c := New(f, Options{})
		c.Verify(t.Context(), tagRef)
		if r := c.Verify(t.Context(), tagRef); r.Cached || f.count(tagRef) != 2 {
			t.Fatalf("a tag was cached without resolution: %+v", r)
		}
	})
	t.Run("a resolver answering a malformed digest is not trusted", func(t *testing.T) {
		res := &fakeResolver{tags: map[string]string{tagRef: "sha256:nothex"}}
		f := newFake(nil)
		c := New(f, Options{Resolver: res})
		c.Verify(t.Context(), tagRef)
		if f.count(tagRef) != 1 || c.Len() != 0 {
			t.Fatalf("verifier saw %v, %d entries", f.refs, c.Len())
		}
	})
}

func TestKeys(t *testing.T) {
	tests := []struct {
		name     string
		stored   string
		lookup   string
		wantHit  bool
		wantNote string
	}{
		{"same reference", img("app", 1), img("app", 1), true, ""},
		{"other repository, same digest", img("app", 1), img("other", 1), false, "trust policy scopes and signatures are per repository"},
		{"other registry, same digest", img("app", 1), "evil.example/app@" + dg(1), false, ""},
		{"tag next to the digest", img("app", 1), "registry.example/app:v2@" + dg(1), true, ""},
		{"invalid tag next to the digest", img("app", 1), "registry.example/app:-v2@" + dg(1), false, ""},
		{"other digest", img("app", 1), img("app", 2), false, ""},
		// Spellings of one repository share its entry; the verifier sees
		// the canonical name, which the trust policy is matched against.
		{"upper-case registry", img("app", 1), "REGISTRY.example/app@" + dg(1), true, ""},
		{"default port", img("app", 1), "registry.example:443/app@" + dg(1), true, ""},
		{"canonical after an alias", "registry.example:443/app@" + dg(1), img("app", 1), true, ""},
		{"Docker Hub alias", "docker.io/library/nginx@" + dg(1), "index.docker.io/nginx@" + dg(1), true, ""},
		{"Docker Hub short form", "registry-1.docker.io/library/nginx@" + dg(1), "docker.io/nginx@" + dg(1), true, ""},
		{"other port", img("app", 1), "registry.example:5000/app@" + dg(1), false, ""},
		{"Docker Hub other repository", "docker.io/library/nginx@" + dg(1), "docker.io/team/nginx@" + dg(1), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(func(_ context.Context, ref string) verify.Result {
				if strings.Contains(ref, ":-v2") {
					return failed(ref, verify.CodeInvalidReference, false)
				}
				return passed(ref)
			})
			c := New(f, Options{})
			c.Verify(t.Context(), tt.stored)
			r := c.Verify(t.Context(), tt.lookup)
			if r.Cached != tt.wantHit {
				t.Fatalf("cached=%v, want %v %s", r.Cached, tt.wantHit, tt.wantNote)
			}
			for _, ref := range f.refs {
				if parsed, err := oci.ParseReference(ref); err == nil && registryname.CanonicalString(parsed) != ref {
					t.Errorf("verifier called with %q, not its canonical form %q", ref, registryname.CanonicalString(parsed))
				}
			}
			if r.Reference != tt.lookup {
				t.Errorf("Reference %q, want the caller's %q", r.Reference, tt.lookup)
			}
		})
	}
}

func TestInvalidReferencePassesThrough(t *testing.T) {
	f := newFake(func(_ context.Context, ref string) verify.Result {
		return failed(ref, verify.CodeInvalidReference, false)
	})
	c := New(f, Options{})
	for _, ref := range []string{"", "nginx", "registry.example/app@sha256:short", "https://registry.example/app:v1"} {
		if r := c.Verify(t.Context(), ref); r.Verified || r.Cached {
			t.Fatalf("%q: %+v", ref, r)
		}
	}
	if c.Len() != 0 {
		t.Fatalf("%d entries for invalid references", c.Len())
	}
}

func TestEviction(t *testing.T) {
	f := newFake(nil)
	c := New(f, Options{MaxEntries: 3})
	ctx := t.Context()
	for i := range 3 {
		c.Verify(ctx, img("app", i))
	}
	c.Verify(ctx, img("app", 0)) // 0 becomes the most recent; 1 the least
	c.Verify(ctx, img("app", 3)) // evicts 1
	if c.Len() != 3 {
		t.Fatalf("%d entries, bound is 3", c.Len())
	}
	for _, tc := range []struct {
		i   int
		hit bool
	}{{0, true}, {2, true}, {3, true}, {1, false}} {
		if got := c.Verify(ctx, img("app", tc.i)).Cached; got != tc.hit {
			t.Errorf("image %d: cached=%v, want %v", tc.i, got, tc.hit)
		}
	}

	t.Run("negative MaxEntries keeps nothing", func(t *testing.T) {
		f := newFake(nil)
		c := New(f, Options{MaxEntries: -1})
		c.Verify(ctx, img("app", 1))
		if r := c.Verify(ctx, img("app", 1)); r.Cached || c.Len() != 0 {
			t.Fatal("cached with MaxEntries -1")
		}
	})
	t.Run("negative TTL keeps nothing of that kind", func(t *testing.T) {
		c := New(newFake(nil), Options{PositiveTTL: -1})
		c.Verify(ctx, img("app", 1))
		if c.Len() != 0 {
			t.Fatal("verified result kept with PositiveTTL -1")
		}
	})
}

func TestCachedCopies(t *testing.T) {
	sigs := make([]verify.SignatureResult, 20)
	for i := range sigs {
		sigs[i].Digest = dg(100 + i)
	}
	f := newFake(func(_ context.Context, ref string) verify.Result {
		r := failed(ref, verify.CodeUntrustedSigner, false)
		r.Signatures = append([]verify.SignatureResult(nil), sigs...)
		r.Warnings = make([]string, 1, 10)
		return r
	})
	c := New(f, Options{})
	ref := img("app", 1)
	fresh := c.Verify(t.Context(), ref)
	if len(fresh.Signatures) != 20 {
		t.Fatalf("fresh result lists %d signatures, want all 20", len(fresh.Signatures))
	}
	cached := c.Verify(t.Context(), ref)
	if len(cached.Signatures) != maxCachedSignatures || cached.Signatures[maxCachedSignatures-1].Digest != dg(119) {
		t.Fatalf("cached result keeps %d signatures ending in %s; want the last %d", len(cached.Signatures), cached.Signatures[len(cached.Signatures)-1].Digest, maxCachedSignatures)
	}
	_ = append(cached.Warnings, "mine")
	if again := c.Verify(t.Context(), ref); len(again.Warnings) != 1 || cap(again.Warnings) != 1 {
		t.Fatalf("a caller's append reached the cache: %q", again.Warnings)
	}
}

func TestQuickDigestName(t *testing.T) {
	d := dg(1)
	tests := []struct {
		ref, want string
		ok        bool
	}{
		{"registry.example/app@" + d, "registry.example/app@" + d, true},
		{"registry.example:5000/team/app@" + d, "registry.example:5000/team/app@" + d, true},
		{"registry.example:5000/team/app:v1.2@" + d, "registry.example:5000/team/app@" + d, true},
		{"registry.example/app:v1", "", false},
		{"app@" + d, "", false},
		{"registry.example/app:@" + d, "", false},
		{"registry.example/app:.v1@" + d, "", false},
		{"registry.example/app:" + strings.Repeat("a", 129) + "@" + d, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			repo, digest, ok := quickDigestName(tt.ref)
			got := ""
			if ok {
				got = repo + "@" + digest
			}
			if got != tt.want || ok != tt.ok {
				t.Fatalf("quickDigestName(%q) = %q, %v; want %q, %v", tt.ref, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzQuickDigestName: the fast path never answers a reference with the
// entry of another repository. Entries are stored under canonical names
// only; whenever the name the fast path reads off a reference is one of
// those, the full parse must name the same repository and digest, however
// the reference was spelled.
func FuzzQuickDigestName(f *testing.F) {
	d := dg(1)
	for _, s := range []string{
		"registry.example/app@" + d,
		"registry.example:443/app:v1@" + d,
		"docker.io/nginx@" + d,
		"docker.io/library/nginx:1@" + d,
		"Registry.example/app@" + d,
		"localhost:5000/a/b@" + d,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		repo, digest, ok := quickDigestName(s)
		if !ok {
			return
		}
		stored, err := oci.ParseReference(repo + "@" + digest)
		if err != nil || stored.Registry+"/"+stored.Repository != repo {
			return // no entry is ever stored under this name
		}
		got, err := oci.ParseReference(s)
		if err != nil {
			t.Fatalf("fast path reads entry %s@%s for %q, which the full parse refuses: %v", repo, digest, s, err)
		}
		if name := got.Registry + "/" + got.Repository; name != repo || got.Reference != digest {
			t.Fatalf("fast path reads entry %s@%s for %q, which names %s@%s", repo, digest, s, name, got.Reference)
		}
	})
}

// The verifier contract the cache relies on is the engine's.
var (
	_ Verifier = (*verify.Engine)(nil)
	_ Verifier = (*Cache)(nil)
	_ Resolver = (*oci.Client)(nil)
)

func TestOnLookup(t *testing.T) {
	var hits, misses int
	c := New(newFake(nil), Options{OnLookup: func(hit bool) {
		if hit {
			hits++
		} else {
			misses++
		}
	}})
	for range 3 {
		c.Verify(t.Context(), img("app", 1))
	}
	if hits != 2 || misses != 1 {
		t.Fatalf("hits %d misses %d; want 2 and 1", hits, misses)
	}
}

// TestShardedCacheHoldsMaxEntries: a sharded cache of MaxEntries keeps that
// many distinct images; uneven hashing across shards must not evict early
// (a warm pass over 10,000 images once missed 43% of them).
func TestShardedCacheHoldsMaxEntries(t *testing.T) {
	f := newFake(nil)
	const n = 10000
	c := New(f, Options{MaxEntries: n})
	ctx := t.Context()
	for i := range n {
		c.Verify(ctx, img("app", i))
	}
	if c.Len() != n {
		t.Fatalf("%d of %d distinct images kept", c.Len(), n)
	}
	for i := range n {
		if !c.Verify(ctx, img("app", i)).Cached {
			t.Fatalf("image %d was evicted from a cache sized for %d", i, n)
		}
	}
	// The bound still holds: twice as many images never grow it past the
	// documented headroom.
	for i := n; i < 2*n; i++ {
		c.Verify(ctx, img("app", i))
	}
	if bound := numShards * shardCapacity(n, numShards); c.Len() > bound || bound != 12000 {
		t.Fatalf("%d entries for MaxEntries %d; the documented bound is 12,000 (computed %d)", c.Len(), n, bound)
	}
}

// TestLookup: Lookup answers exactly what Verify would serve from the cache,
// and nothing else: it never calls the verifier, never resolves a tag,
// never serves a failure that was not definitive, an expired verdict or
// one from an older generation, and counts only its hits.
func TestLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits, misses int
		v := newFake(func(_ context.Context, ref string) verify.Result {
			switch {
			case strings.Contains(ref, "/down@"):
				return failed(ref, verify.CodeRegistryUnavailable, true)
			case strings.Contains(ref, "/bad@"):
				return failed(ref, verify.CodeUntrustedSigner, false)
			}
			return passed(ref)
		})
		res := &fakeResolver{tags: map[string]string{"registry.example/app:v1": dg(1)}}
		c := New(v, Options{Resolver: res, PositiveTTL: time.Minute, OnLookup: func(hit bool) {
			if hit {
				hits++
			} else {
				misses++
			}
		}})
		good, bad, down := img("app", 1), img("bad", 2), img("down", 3)
		for _, ref := range []string{good, bad, down} {
			if r, ok := c.Lookup(ref); ok {
				t.Fatalf("cold Lookup(%s) = %+v", ref, r)
			}
		}
		if v.total() != 0 || res.calls != 0 || hits+misses != 0 {
			t.Fatalf("a cold Lookup called the verifier %d times, the resolver %d, counted %d", v.total(), res.calls, hits+misses)
		}
		for _, ref := range []string{good, bad, down} {
			c.Verify(t.Context(), ref)
		}
		hits, misses = 0, 0

		r, ok := c.Lookup(good)
		if !ok || !r.Verified || !r.Cached || r.Reference != good {
			t.Fatalf("Lookup(verified) = %+v, %v", r, ok)
		}
		withTag := "registry.example/app:v1@" + dg(1)
		if r, ok := c.Lookup(withTag); !ok || !r.Verified || r.Reference != withTag {
			t.Fatalf("Lookup(tag@digest) = %+v, %v", r, ok)
		}
		if r, ok := c.Lookup(bad); !ok || r.Verified || r.Code != verify.CodeUntrustedSigner {
			t.Fatalf("Lookup(definitive failure) = %+v, %v", r, ok)
		}
		for _, ref := range []string{down, "registry.example/app:v1", "registry.example/app:bad tag@" + dg(1), "not a reference"} {
			if r, ok := c.Lookup(ref); ok {
				t.Errorf("Lookup(%q) = %+v; want a miss", ref, r)
			}
		}
		if hits != 3 || misses != 0 {
			t.Errorf("counted %d hits and %d misses; want 3 and 0 (misses are counted by Verify)", hits, misses)
		}
		if v.total() != 3 || res.calls != 0 {
			t.Errorf("Lookup called the verifier (%d calls, want the 3 of Verify) or the resolver (%d)", v.total(), res.calls)
		}

		time.Sleep(2 * time.Minute)
		if r, ok := c.Lookup(good); ok {
			t.Errorf("Lookup served an expired verdict: %+v", r)
		}
	})
}

// TestMaxVerificationsFailsFast: past the bound on verifications running
// at once, a Verify does not queue behind them until its deadline: it
// answers at once that hallmark is busy, a transient failure that is not
// cached; once the others finish, the image verifies.
func TestMaxVerificationsFailsFast(t *testing.T) {
	release := make(chan struct{})
	started := make(chan string, 2)
	f := newFake(func(ctx context.Context, ref string) verify.Result {
		if strings.Contains(ref, "/slow") {
			started <- ref
			<-release
		}
		return passed(ref)
	})
	c := New(f, Options{MaxVerifications: 2})
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { c.Verify(context.Background(), img("slow", i)) })
	}
	<-started
	<-started

	// A deadline far away: queueing would hold the caller until it passed.
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	r := c.Verify(ctx, img("app", 9))
	if r.Verified || !r.Transient || r.Code != verify.CodeError || !strings.Contains(r.Reason, "as many verifications as it allows at once (2)") {
		t.Fatalf("Verify over the bound = %+v; want an immediate transient busy failure", r)
	}
	if f.count(img("app", 9)) != 0 {
		t.Fatal("the verifier was called over the bound")
	}
	close(release)
	wg.Wait()
	if r := c.Verify(ctx, img("app", 9)); !r.Verified || r.Cached {
		t.Fatalf("Verify after the others finished = %+v; want verified, not a cached busy answer", r)
	}
}
