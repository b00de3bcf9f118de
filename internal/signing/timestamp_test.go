package signing

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/tspclient-go"
)

func TestSignEnvelopeTimestamp(t *testing.T) {
	tsa := signingtest.NewTSA(t)
	key := signingtest.Key(t, signingtest.EC256)
	chain := signingtest.Chain(t, key, "timestamped")

	for _, format := range []string{FormatCOSE, FormatJWS} {
		t.Run(format, func(t *testing.T) {
			env, mt, err := SignEnvelope(context.Background(), signingtest.Opaque(key), chain, testArtifact(), Options{
				Format:           format,
				TimestampURL:     tsa.URL,
				TimestampRootCAs: tsa.RootPool(),
			})
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := signature.ParseEnvelope(mt, env)
			if err != nil {
				t.Fatal(err)
			}
			content, err := parsed.Verify()
			if err != nil {
				t.Fatal(err)
			}
			tok := content.SignerInfo.UnsignedAttributes.TimestampSignature
			if len(tok) == 0 {
				t.Fatal("envelope has no timestamp countersignature")
			}
			signed, err := tspclient.ParseSignedToken(tok)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := signed.Verify(context.Background(), x509.VerifyOptions{Roots: tsa.RootPool()}); err != nil {
				t.Fatalf("token does not verify: %v", err)
			}
			info, err := signed.Info()
			if err != nil {
				t.Fatal(err)
			}
			// The token must cover the primitive signature bytes.
			if _, err := info.Validate(content.SignerInfo.Signature); err != nil {
				t.Errorf("token does not cover the signature: %v", err)
			}
		})
	}
}

func TestSignEnvelopeTimestampFailures(t *testing.T) {
	tsa := signingtest.NewTSA(t)
	otherTSA := signingtest.NewTSA(t)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(broken.Close)
	key := signingtest.Key(t, signingtest.EC256)
	chain := []*x509.Certificate{signingtest.SelfSigned(t, key, "timestamp failures")}

	tests := []struct {
		name  string
		url   string
		roots *x509.CertPool
	}{
		{"TSA unavailable", broken.URL, tsa.RootPool()},
		{"token from an untrusted TSA", tsa.URL, otherTSA.RootPool()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := SignEnvelope(context.Background(), key, chain, testArtifact(), Options{TimestampURL: tt.url, TimestampRootCAs: tt.roots})
			if !errors.Is(err, ErrTimestamp) {
				t.Fatalf("err = %v, want ErrTimestamp", err)
			}
		})
	}
}

// TestTimestampedSignatureVerifies checks notation-go accepts the timestamp
// under a strict policy that always verifies timestamps against a tsa trust
// store.
func TestTimestampedSignatureVerifies(t *testing.T) {
	ctx := context.Background()
	tsa := signingtest.NewTSA(t)
	key := signingtest.Key(t, signingtest.EC384)
	chain := signingtest.Chain(t, key, "timestamped e2e")
	dir, artifact := newLayoutImage(t)
	repo, err := notationregistry.NewOCIRepository(dir, notationregistry.RepositoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := testScope + "@" + artifact.Digest.String()
	if _, err := Sign(ctx, signingtest.Opaque(key), chain, repo, ref, Options{TimestampURL: tsa.URL, TimestampRootCAs: tsa.RootPool()}); err != nil {
		t.Fatal(err)
	}
	policy := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:           "timestamped",
			RegistryScopes: []string{testScope},
			SignatureVerification: trustpolicy.SignatureVerification{
				VerificationLevel: trustpolicy.LevelStrict.Name,
				VerifyTimestamp:   trustpolicy.OptionAlways,
			},
			TrustStores:       []string{"ca:test", "tsa:test"},
			TrustedIdentities: []string{"*"},
		}},
	}
	v, err := verifier.New(policy, memTrustStore{"ca:test": {chain[1]}, "tsa:test": {tsa.Root}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, outcomes, err := notation.Verify(ctx, v, repo, notation.VerifyOptions{ArtifactReference: ref, MaxSignatureAttempts: 10})
	if err != nil {
		t.Fatalf("notation.Verify: %v", err)
	}
	checked := false
	for _, r := range outcomes[0].VerificationResults {
		if r.Type == trustpolicy.TypeAuthenticTimestamp {
			checked = true
			if r.Error != nil {
				t.Errorf("authentic timestamp: %v", r.Error)
			}
		}
	}
	if !checked {
		t.Error("notation-go did not check the authentic timestamp")
	}
	if tsa.Requests.Load() != 1 {
		t.Errorf("TSA answered %d requests, want 1", tsa.Requests.Load())
	}
}
