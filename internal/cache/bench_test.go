package cache

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

// realistic builds a verified result shaped like the engine's: one
// signature with its five validations and certificate details. Like the
// engine, it allocates every string per result (the engine formats them
// from each envelope), so that the cache's sharing is measured, not the
// compiler's.
func realistic(ref string) verify.Result {
	now := time.Now()
	later := now.Add(365 * 24 * time.Hour)
	sig := verify.SignatureResult{
		Digest:        dg(len(ref)),
		Format:        strings.Clone("application/jose+json"),
		SigningScheme: strings.Clone("notary.x509"),
		SignerSubject: strings.Clone("CN=release,O=Example Corp,L=Seattle,ST=WA,C=US"),
		SignerIssuer:  strings.Clone("CN=Example Code Signing CA,O=Example Corp,C=US"),
		SignerSerial:  strings.Clone("4f1a9c3b2d7e6a5f8091a2b3c4d5e6f7"),
		Thumbprint:    strings.Repeat("ab", 32),
		SignedAt:      &now,
		ExpiresAt:     &later,
		Verified:      true,
		Code:          verify.CodeVerified,
	}
	for _, v := range []string{verify.ValidationIntegrity, verify.ValidationAuthenticity, verify.ValidationAuthenticTimestamp, verify.ValidationExpiry, verify.ValidationRevocation} {
		sig.Validations = append(sig.Validations, verify.Validation{Type: v, Action: verify.ActionEnforced, Checked: true, Passed: true})
	}
	r := passed(ref)
	r.Digest = strings.Clone(r.Digest)
	r.Reason = fmt.Sprintf("signature by CN=release,O=Example Corp,L=Seattle,ST=WA,C=US verified under trust policy statement %q", "production")
	r.Signatures = []verify.SignatureResult{sig}
	return r
}

func BenchmarkCacheHit(b *testing.B) {
	for _, tc := range []struct{ name, ref string }{
		{"digest", img("team/app", 1)},
		{"tag+digest", "registry.example/team/app:v1.2.3@" + dg(1)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := New(newFake(func(_ context.Context, ref string) verify.Result { return realistic(ref) }), Options{})
			ctx := context.Background()
			c.Verify(ctx, tc.ref)
			b.ReportAllocs()
			for b.Loop() {
				if r := c.Verify(ctx, tc.ref); !r.Cached {
					b.Fatal("miss")
				}
			}
		})
	}
}

func BenchmarkCacheHitParallel(b *testing.B) {
	c := New(newFake(func(_ context.Context, ref string) verify.Result { return realistic(ref) }), Options{})
	ctx := context.Background()
	refs := make([]string, 100)
	for i := range refs {
		refs[i] = img("team/app", i)
		c.Verify(ctx, refs[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if r := c.Verify(ctx, refs[i%len(refs)]); !r.Cached {
				b.Fatal("miss")
			}
			i++
		}
	})
}

// verifierFunc is a Verifier that keeps nothing, so that the heap measured
// is the cache's.
type verifierFunc func(ctx context.Context, ref string) verify.Result

func (f verifierFunc) Verify(ctx context.Context, ref string) verify.Result { return f(ctx, ref) }

// BenchmarkCacheFill reports the heap a full default-size cache holds, per
// entry, with results shaped like the engine's.
func BenchmarkCacheFill(b *testing.B) {
	refs := make([]string, DefaultMaxEntries)
	for i := range refs {
		refs[i] = img(fmt.Sprintf("team%d/app", i%50), i)
	}
	f := verifierFunc(func(_ context.Context, ref string) verify.Result { return realistic(ref) })
	ctx := context.Background()
	var perEntry float64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c := New(f, Options{})
		for _, ref := range refs {
			c.Verify(ctx, ref)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / float64(c.Len())
		runtime.KeepAlive(c)
	}
	b.ReportMetric(perEntry, "heapB/entry")
}
