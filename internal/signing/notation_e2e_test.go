package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/oci"
)

// testScope is the repository the trust policy covers; the OCI layout
// repository ignores the registry part of references.
const testScope = "registry.test/team/app"

// memTrustStore is an in-memory truststore.X509TrustStore keyed by
// "<type>:<name>".
type memTrustStore map[string][]*x509.Certificate

func (m memTrustStore) GetCertificates(_ context.Context, typ truststore.Type, name string) ([]*x509.Certificate, error) {
	certs, ok := m[string(typ)+":"+name]
	if !ok {
		return nil, fmt.Errorf("trust store %s:%s not found", typ, name)
	}
	return certs, nil
}

// newLayoutImage writes a one-layer image into a fresh OCI layout and
// returns the layout directory and the manifest descriptor.
func newLayoutImage(t *testing.T) (string, ocispec.Descriptor) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := oci.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	push := func(mediaType string, b []byte) ocispec.Descriptor {
		d := content.NewDescriptorFromBytes(mediaType, b)
		if err := store.Push(ctx, d, strings.NewReader(string(b))); err != nil {
			t.Fatal(err)
		}
		return d
	}
	config := push(ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	layer := push(ocispec.MediaTypeImageLayer, []byte("not really a tarball"))
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    config,
		Layers:    []ocispec.Descriptor{layer},
	})
	if err != nil {
		t.Fatal(err)
	}
	desc := push(ocispec.MediaTypeImageManifest, manifest)
	if err := store.Tag(ctx, desc, "v1"); err != nil {
		t.Fatal(err)
	}
	return dir, desc
}

// strictVerifier trusts certs under trust store ca:test for testScope, for
// the given identity, at the strict level.
func strictVerifier(t *testing.T, trusted []*x509.Certificate, identity string) notation.Verifier {
	t.Helper()
	policy := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:                  "test",
			RegistryScopes:        []string{testScope},
			SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: trustpolicy.LevelStrict.Name},
			TrustStores:           []string{"ca:test"},
			TrustedIdentities:     []string{identity},
		}},
	}
	v, err := verifier.New(policy, memTrustStore{"ca:test": trusted}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSignThenNotationVerify signs through notation.Sign with the adapter
// into an OCI layout and verifies with notation-go's verifier under a strict
// trust policy, as any notation-based verifier would.
func TestSignThenNotationVerify(t *testing.T) {
	key := signingtest.Key(t, signingtest.EC384)
	rsaKey := signingtest.Key(t, signingtest.RSA3072)
	chain := signingtest.Chain(t, key, "hallmark e2e signer")
	rsaChain := []*x509.Certificate{signingtest.SelfSigned(t, rsaKey, "hallmark e2e rsa signer")}

	tests := []struct {
		name   string
		signer crypto.Signer
		chain  []*x509.Certificate
		format string
	}{
		{"EC chain, COSE", signingtest.Opaque(key), chain, FormatCOSE},
		{"EC chain, JWS", signingtest.Opaque(key), chain, FormatJWS},
		{"RSA self-signed, COSE", signingtest.Opaque(rsaKey), rsaChain, FormatCOSE},
		{"RSA self-signed, JWS", signingtest.Opaque(rsaKey), rsaChain, FormatJWS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir, artifact := newLayoutImage(t)
			repo, err := notationregistry.NewOCIRepository(dir, notationregistry.RepositoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ref := testScope + "@" + artifact.Digest.String()
			sigDesc, err := Sign(ctx, tt.signer, tt.chain, repo, ref, Options{
				Format:       tt.format,
				Expiry:       24 * time.Hour,
				UserMetadata: map[string]string{"buildId": "42"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if sigDesc.MediaType != ocispec.MediaTypeImageManifest || sigDesc.Digest == "" {
				t.Errorf("signature manifest descriptor = %+v", sigDesc)
			}
			var listed []ocispec.Descriptor
			if err := repo.ListSignatures(ctx, artifact, func(ds []ocispec.Descriptor) error {
				listed = append(listed, ds...)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(listed) != 1 || listed[0].Digest != sigDesc.Digest {
				t.Fatalf("signatures listed for the artifact = %v, want just %s", listed, sigDesc.Digest)
			}

			root := tt.chain[len(tt.chain)-1]
			v := strictVerifier(t, []*x509.Certificate{root}, "x509.subject: "+tt.chain[0].Subject.String())
			got, outcomes, err := notation.Verify(ctx, v, repo, notation.VerifyOptions{
				ArtifactReference:    ref,
				MaxSignatureAttempts: 10,
				UserMetadata:         map[string]string{"buildId": "42"},
			})
			if err != nil {
				t.Fatalf("notation.Verify: %v", err)
			}
			if got.Digest != artifact.Digest {
				t.Errorf("verified digest = %s, want %s", got.Digest, artifact.Digest)
			}
			if len(outcomes) != 1 {
				t.Fatalf("%d outcomes, want 1", len(outcomes))
			}
			if o := outcomes[0]; o.VerificationLevel.Name != "strict" || o.Error != nil {
				t.Errorf("outcome level %q error %v", o.VerificationLevel.Name, o.Error)
			}
			if agent := outcomes[0].EnvelopeContent.SignerInfo.UnsignedAttributes.SigningAgent; agent != DefaultSigningAgent() {
				t.Errorf("signing agent = %q, want %q", agent, DefaultSigningAgent())
			}

			// The same signature must not satisfy a verifier that requires
			// other metadata, trusts another root, or another identity.
			otherKey := signingtest.Key(t, signingtest.EC256)
			otherRoot := signingtest.Root(t, otherKey, "Other Root")
			negative := []struct {
				name     string
				v        notation.Verifier
				metadata map[string]string
			}{
				{"other metadata", v, map[string]string{"buildId": "43"}},
				{"untrusted root", strictVerifier(t, []*x509.Certificate{otherRoot}, "*"), nil},
				{"other identity", strictVerifier(t, []*x509.Certificate{root}, "x509.subject: CN=someone else,O=hallmark test,ST=WA,C=US"), nil},
			}
			for _, n := range negative {
				_, _, err := notation.Verify(ctx, n.v, repo, notation.VerifyOptions{
					ArtifactReference: ref, MaxSignatureAttempts: 10, UserMetadata: n.metadata,
				})
				var failed notation.VerificationFailedError
				if !errors.As(err, &failed) {
					t.Errorf("%s: notation.Verify err = %v, want VerificationFailedError", n.name, err)
				}
			}
		})
	}
}

// TestSignRejects covers what Sign refuses before anything is pushed.
func TestSignRejects(t *testing.T) {
	ctx := context.Background()
	key := signingtest.Key(t, signingtest.EC256)
	good := []*x509.Certificate{signingtest.SelfSigned(t, key, "good")}
	tls := []*x509.Certificate{signingtest.SelfSigned(t, key, "tls.example", signingtest.WithEKU(x509.ExtKeyUsageServerAuth))}

	tests := []struct {
		name    string
		chain   []*x509.Certificate
		ref     func(artifact ocispec.Descriptor) string
		opts    Options
		wantErr error
	}{
		{"serverAuth certificate", tls, func(a ocispec.Descriptor) string { return testScope + "@" + a.Digest.String() }, Options{}, ErrInvalidChain},
		{"tag reference", good, func(ocispec.Descriptor) string { return testScope + ":v1" }, Options{}, ErrNotDigest},
		{"reserved metadata", good, func(a ocispec.Descriptor) string { return a.Digest.String() },
			Options{UserMetadata: map[string]string{"io.cncf.notary.signingAgent": "x"}}, ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, artifact := newLayoutImage(t)
			repo, err := notationregistry.NewOCIRepository(dir, notationregistry.RepositoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Sign(ctx, key, tt.chain, repo, tt.ref(artifact), tt.opts); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Sign err = %v, want %v", err, tt.wantErr)
			}
			n := 0
			if err := repo.ListSignatures(ctx, artifact, func(ds []ocispec.Descriptor) error { n += len(ds); return nil }); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d signatures were pushed", n)
			}
		})
	}
}
