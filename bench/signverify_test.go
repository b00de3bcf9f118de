package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/signing"
	"github.com/hallmark-dev/hallmark/internal/verify"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

type fixture struct {
	host   string
	client *oci.Client
	key    *keys.Key
}

func setup(b *testing.B, keyType, curve string) fixture {
	b.Helper()
	ctx := context.Background()
	reg, err := devregistry.Start(ctx, devregistry.Options{Referrers: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { reg.Close() })
	store, err := local.Open(b.TempDir(), local.Options{Passphrase: []byte("bench")})
	if err != nil {
		b.Fatal(err)
	}
	p := certpolicy.Default()
	p.X509.Subject = "CN=bench,O=Hallmark,ST=WA,C=US"
	if keyType != "" {
		p.Key.KeyType, p.Key.Curve, p.Key.KeySize = keyType, curve, 0
	}
	p.ApplyDefaults()
	if _, err := store.Create(ctx, "bench", p); err != nil {
		b.Fatal(err)
	}
	key, err := store.Signer(ctx, keys.Ref{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	client, err := oci.New(oci.Options{PlainHTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	return fixture{host: reg.Host(), client: client, key: key}
}

// BenchmarkSign signs one image and pushes the signature to the embedded
// registry (referrers API on), per envelope format and key type.
func BenchmarkSign(b *testing.B) {
	for _, kt := range []struct{ name, keyType, curve string }{{"RSA-2048", "", ""}, {"EC-256", "EC", "P-256"}} {
		for _, format := range []string{signing.FormatCOSE, signing.FormatJWS} {
			b.Run(kt.name+"/"+format, func(b *testing.B) {
				f := setup(b, kt.keyType, kt.curve)
				ctx := context.Background()
				desc, err := devregistry.PushSampleImage(ctx, f.host, "bench", "v1", "sign")
				if err != nil {
					b.Fatal(err)
				}
				ref := fmt.Sprintf("%s/bench@%s", f.host, desc.Digest)
				repo, err := f.client.NotationRepository(ctx, ref)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := signing.Sign(ctx, f.key.Signer, f.key.Chain, repo, ref, signing.Options{Format: format}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkVerify verifies a one-signature image with the engine that
// `hallmark verify` and admission use, uncached: every iteration resolves the
// reference, lists referrers, fetches the signature and checks it.
func BenchmarkVerify(b *testing.B) {
	for _, kt := range []struct{ name, keyType, curve string }{{"RSA-2048", "", ""}, {"EC-256", "EC", "P-256"}} {
		b.Run(kt.name, func(b *testing.B) {
			f := setup(b, kt.keyType, kt.curve)
			ctx := context.Background()
			desc, err := devregistry.PushSampleImage(ctx, f.host, "bench", "v1", "verify")
			if err != nil {
				b.Fatal(err)
			}
			ref := fmt.Sprintf("%s/bench@%s", f.host, desc.Digest)
			repo, err := f.client.NotationRepository(ctx, ref)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := signing.Sign(ctx, f.key.Signer, f.key.Chain, repo, ref, signing.Options{}); err != nil {
				b.Fatal(err)
			}
			ts := tstore.New()
			if err := ts.Add(truststore.TypeCA, "bench", f.key.Chain[len(f.key.Chain)-1]); err != nil {
				b.Fatal(err)
			}
			policy := &trustpolicy.Document{
				Version: "1.0",
				TrustPolicies: []trustpolicy.TrustPolicy{{
					Name:                  "bench",
					RegistryScopes:        []string{"*"},
					SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "strict"},
					TrustStores:           []string{"ca:bench"},
					TrustedIdentities:     []string{"*"},
				}},
			}
			engine, err := verify.NewEngine(policy, ts, oci.Repositories{Client: f.client}, verify.EngineOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if r := engine.Verify(ctx, ref); !r.Verified {
				b.Fatalf("not verified: %s", r.Reason)
			}
			b.ReportAllocs()
			for b.Loop() {
				if r := engine.Verify(ctx, ref); !r.Verified {
					b.Fatalf("not verified: %s", r.Reason)
				}
			}
		})
	}
}
