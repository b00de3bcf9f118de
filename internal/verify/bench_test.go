package verify

import (
	"context"
	"crypto/x509"
	"syscall"
	"testing"
	"time"

	"github.com/notaryproject/notation-core-go/signature/cose"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// BenchmarkSignatureCheck measures the CPU of checking one signature as
// the engine does (the verifier NewEngine builds, under a strict policy),
// apart from the registry: an RSA-2048 COSE envelope, hallmark's default,
// signed by a leaf under a root, with no OCSP or CRL. cpu-ns/op is the
// process's CPU per check, steadier than the elapsed time on shared cores.
//
//	go test -run '^$' -bench BenchmarkSignatureCheck -benchtime 2000x -count 5 ./internal/verify
func BenchmarkSignatureCheck(b *testing.B) {
	rootKey := signingtest.Key(b, signingtest.RSA2048)
	root := signingtest.Root(b, rootKey, "bench root")
	leafKey := signingtest.NewKey(b, signingtest.RSA2048)
	leaf := signingtest.Leaf(b, leafKey.Public(), "bench signer", root, rootKey)
	subject := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: "sha256:8c4a9f0e1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5", Size: 528}
	blob := envelope(b, cose.MediaTypeEnvelope, leafKey, []*x509.Certificate{leaf, root}, subject, time.Now(), time.Time{})
	doc, err := tpolicy.Parse([]byte(`{"version": "1.0", "trustPolicies": [{"name": "all", "registryScopes": ["*"],
		"signatureVerification": {"level": "strict"}, "trustStores": ["ca:prod"], "trustedIdentities": ["*"]}]}`))
	if err != nil {
		b.Fatal(err)
	}
	store := tstore.New()
	if err := store.Add(truststore.TypeCA, "prod", root); err != nil {
		b.Fatal(err)
	}
	e, err := NewEngine(doc, store, plainHTTPRepositories{}, EngineOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	opts := notation.VerifierVerifyOptions{ArtifactReference: "registry.example.com/team/app@" + subject.Digest.String(), SignatureMediaType: cose.MediaTypeEnvelope}
	b.ReportAllocs()
	start := processCPU()
	for b.Loop() {
		if _, err := e.verifier.Verify(ctx, subject, blob, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
