package cosign_test

import (
	"context"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// BenchmarkCosignVerify measures one image with one cosign signature on the
// in-process registry (referrers API on, loopback): cold is a fresh
// verification each time (resolve, the .sig tag lookup, the referrers
// listing, fetches and sigstore-go's checks), warm is a hit in the result
// cache that admission puts in front of every verifier. Compare with
// internal/verify's BenchmarkEngineVerify (a Notary Project signature,
// cold).
func BenchmarkCosignVerify(b *testing.B) {
	r := startRegistry(b, true)
	ss := newSigstore(b)
	key, pub, _ := newKey(b)
	keyed := r.pushImage(b, "keyed", "bench-keyed")
	r.pushSimpleSignatures(b, "keyed", keyed, keyedSig(b, key, r.host+"/keyed", keyed.Digest))
	keyless := r.pushImage(b, "keyless", "bench-keyless")
	r.pushBundle(b, "keyless", keyless, ss.keylessBundle(b, alice, issuer, keyless.Digest, "https://sigstore.dev/cosign/sign/v1"))

	v, err := cosign.NewVerifier([]cosign.Policy{
		{Name: "keyed", Scopes: []string{r.host + "/keyed"}, Keys: []cosign.Key{pub}},
		{Name: "keyless", Scopes: []string{r.host + "/keyless"}, Identities: []cosign.Identity{{Subject: alice, Issuer: issuer}}, TrustedRoot: ss.root},
	}, r.client, cosign.Options{})
	if err != nil {
		b.Fatal(err)
	}
	warm := cache.New(v, cache.Options{Resolver: r.client})
	ctx := context.Background()
	for _, tc := range []struct{ name, ref string }{
		{"keyed simple signing", r.host + "/keyed@" + keyed.Digest.String()},
		{"keyless bundle", r.host + "/keyless@" + keyless.Digest.String()},
	} {
		b.Run(tc.name+"/cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if res := v.Verify(ctx, tc.ref); !res.Verified {
					b.Fatal(res.Reason)
				}
			}
		})
		b.Run(tc.name+"/warm", func(b *testing.B) {
			if res := warm.Verify(ctx, tc.ref); !res.Verified {
				b.Fatal(res.Reason)
			}
			b.ReportAllocs()
			for b.Loop() {
				if res := warm.Verify(ctx, tc.ref); !res.Verified || !res.Cached {
					b.Fatal("not a cache hit: ", res.Reason)
				}
			}
		})
	}
}
