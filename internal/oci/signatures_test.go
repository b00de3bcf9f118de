package oci_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/notaryproject/notation-core-go/signature/jws" // registers the JWS envelope
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

const (
	jwsMediaType     = "application/jose+json"
	thumbprintAnnKey = "io.cncf.notary.x509chain.thumbprint#S256"
)

// referrersTagExists reports whether the referrers tag schema index for
// subject exists in the repository.
func referrersTagExists(t *testing.T, c *oci.Client, repoRef string, subject ocispec.Descriptor) bool {
	t.Helper()
	_, err := c.Resolve(t.Context(), repoRef+":sha256-"+subject.Digest.Encoded())
	switch {
	case err == nil:
		return true
	case errors.Is(err, oci.ErrNotFound):
		return false
	}
	t.Fatalf("Resolve(referrers tag) error = %v", err)
	return false
}

func TestNotationPushAndList(t *testing.T) {
	tests := []struct {
		name      string
		referrers bool
		force     bool
		wantTag   bool // the sha256-<hex> index exists after the push
	}{
		{"referrers-api", true, false, false},
		{"referrers-api forced tag", true, true, true},
		{"tag-schema", false, false, true},
		{"tag-schema forced tag", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			host := startRegistry(t, tt.referrers)
			subject := pushImage(t, host, "app", "v1", "signed")
			repoRef := host + "/app"
			c := newClient(t, oci.Options{ForceReferrersTag: tt.force})

			repo, err := c.NotationRepository(ctx, repoRef+":v1")
			if err != nil {
				t.Fatalf("NotationRepository() error = %v", err)
			}
			envelope := []byte(`{"payload":"not a real signature"}`)
			annotations := map[string]string{thumbprintAnnKey: `["abc"]`}
			_, sigDesc, err := repo.PushSignature(ctx, jwsMediaType, envelope, subject, annotations)
			if err != nil {
				t.Fatalf("PushSignature() error = %v", err)
			}

			if got := referrersTagExists(t, c, repoRef, subject); got != tt.wantTag {
				t.Errorf("referrers tag index exists = %v, want %v", got, tt.wantTag)
			}

			gotSubject, sigs, err := c.ListSignatures(ctx, repoRef+":v1")
			if err != nil {
				t.Fatalf("ListSignatures() error = %v", err)
			}
			if gotSubject.Digest != subject.Digest {
				t.Errorf("ListSignatures() subject = %s, want %s", gotSubject.Digest, subject.Digest)
			}
			if len(sigs) != 1 || sigs[0].Digest != sigDesc.Digest {
				t.Fatalf("ListSignatures() = %v, want the one pushed (%s)", sigs, sigDesc.Digest)
			}
			if sigs[0].ArtifactType != oci.ArtifactTypeSignature {
				t.Errorf("listed artifactType = %q, want %q", sigs[0].ArtifactType, oci.ArtifactTypeSignature)
			}

			manifest, mediaType, gotEnvelope, err := c.FetchSignature(ctx, repoRef, sigs[0])
			if err != nil {
				t.Fatalf("FetchSignature() error = %v", err)
			}
			// notation-go v1.3 writes the legacy shape.
			if manifest.Config.MediaType != oci.ArtifactTypeSignature || manifest.ArtifactType != "" {
				t.Errorf("manifest config.mediaType = %q, artifactType = %q; want the legacy shape",
					manifest.Config.MediaType, manifest.ArtifactType)
			}
			if manifest.Subject == nil || manifest.Subject.Digest != subject.Digest {
				t.Errorf("manifest subject = %v, want %s", manifest.Subject, subject.Digest)
			}
			if manifest.Annotations[thumbprintAnnKey] != `["abc"]` {
				t.Errorf("manifest annotations = %v, want the thumbprint kept", manifest.Annotations)
			}
			if mediaType != jwsMediaType || !bytes.Equal(gotEnvelope, envelope) {
				t.Errorf("FetchSignature() envelope = %q (%s), want %q (%s)", gotEnvelope, mediaType, envelope, jwsMediaType)
			}

			// notation-go's own listing, through the same repository, agrees.
			var listed []ocispec.Descriptor
			if err := repo.ListSignatures(ctx, subject, func(page []ocispec.Descriptor) error {
				listed = append(listed, page...)
				return nil
			}); err != nil {
				t.Fatalf("NotationRepository.ListSignatures() error = %v", err)
			}
			if len(listed) != 1 {
				t.Errorf("NotationRepository.ListSignatures() = %v, want 1 signature", listed)
			}
		})
	}
}

// packReferrer attaches an artifact to subject, in the OCI 1.1 shape
// (artifactType and the empty config) or, with legacy, in the shape
// notation-go v1 writes (config.mediaType, no artifactType).
func packReferrer(t *testing.T, repo *remote.Repository, subject ocispec.Descriptor, artifactType string, legacy bool, layers ...ocispec.Descriptor) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	if layers == nil {
		layer, err := oras.PushBytes(ctx, repo, jwsMediaType, []byte("envelope for "+artifactType))
		if err != nil {
			t.Fatal(err)
		}
		layers = []ocispec.Descriptor{layer}
	}
	opts := oras.PackManifestOptions{Subject: &subject, Layers: layers}
	packType := artifactType
	if legacy {
		config, err := oras.PushBytes(ctx, repo, artifactType, []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		opts.ConfigDescriptor = &config
		packType = ""
	}
	desc, err := oras.PackManifest(ctx, repo, oras.PackManifestVersion1_1, packType, opts)
	if err != nil {
		t.Fatalf("PackManifest() error = %v", err)
	}
	return desc
}

func TestListSignaturesBothShapes(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := t.Context()
			host := startRegistry(t, mode.referrers)
			subject := pushImage(t, host, "app", "v1", "shapes")
			c := newClient(t, oci.Options{})
			repo, err := c.Repository(ctx, host+"/app")
			if err != nil {
				t.Fatal(err)
			}

			modern := packReferrer(t, repo, subject, oci.ArtifactTypeSignature, false)
			legacy := packReferrer(t, repo, subject, oci.ArtifactTypeSignature, true)
			packReferrer(t, repo, subject, "application/spdx+json", false) // not a signature

			_, sigs, err := c.ListSignatures(ctx, host+"/app@"+subject.Digest.String())
			if err != nil {
				t.Fatalf("ListSignatures() error = %v", err)
			}
			got := map[string]bool{}
			for _, s := range sigs {
				got[s.Digest.String()] = true
			}
			if len(sigs) != 2 || !got[modern.Digest.String()] || !got[legacy.Digest.String()] {
				t.Fatalf("ListSignatures() = %v, want exactly %s (artifactType) and %s (legacy)", sigs, modern.Digest, legacy.Digest)
			}
			for _, s := range sigs {
				if _, mediaType, _, err := c.FetchSignature(ctx, host+"/app", s); err != nil || mediaType != jwsMediaType {
					t.Errorf("FetchSignature(%s) = %q, %v; want %s", s.Digest, mediaType, err, jwsMediaType)
				}
			}
		})
	}
}

func TestListSignaturesNone(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			host := startRegistry(t, mode.referrers)
			subject := pushImage(t, host, "app", "v1", "unsigned")
			c := newClient(t, oci.Options{})
			got, sigs, err := c.ListSignatures(t.Context(), host+"/app:v1")
			if err != nil {
				t.Fatalf("ListSignatures() error = %v", err)
			}
			if got.Digest != subject.Digest || len(sigs) != 0 {
				t.Errorf("ListSignatures() = %s, %v; want %s and no signatures", got.Digest, sigs, subject.Digest)
			}
		})
	}
}

func TestFetchSignatureRefusals(t *testing.T) {
	ctx := t.Context()
	host := startRegistry(t, true)
	subject := pushImage(t, host, "app", "v1", "refusals")
	c := newClient(t, oci.Options{})
	repo, err := c.Repository(ctx, host+"/app")
	if err != nil {
		t.Fatal(err)
	}
	sig := packReferrer(t, repo, subject, oci.ArtifactTypeSignature, false)
	oversized := sig
	oversized.Size = 5 << 20

	// A signature manifest whose envelope claims 33 MiB. The blob need not
	// exist: the size is refused before anything is fetched.
	hugeEnvelope := packReferrer(t, repo, subject, oci.ArtifactTypeSignature, false, ocispec.Descriptor{
		MediaType: jwsMediaType, Digest: testDigest, Size: 33 << 20,
	})
	twoLayers := packReferrer(t, repo, subject, oci.ArtifactTypeSignature, false,
		ocispec.DescriptorEmptyJSON, ocispec.DescriptorEmptyJSON)
	sbom := packReferrer(t, repo, subject, "application/spdx+json", false)
	index := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageIndex, Digest: subject.Digest, Size: subject.Size}

	tests := []struct {
		name    string
		desc    ocispec.Descriptor
		wantErr error
	}{
		{"manifest over 4 MiB", oversized, oci.ErrTooLarge},
		{"envelope over 32 MiB", hugeEnvelope, oci.ErrTooLarge},
		{"the image itself", subject, oci.ErrNotSignature},
		{"another artifact", sbom, oci.ErrNotSignature},
		{"two layers", twoLayers, oci.ErrNotSignature},
		{"an index", index, oci.ErrNotSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, _, err := c.FetchSignature(ctx, host+"/app", tt.desc)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("FetchSignature() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// testPKI returns a root CA and a code-signing leaf it issued, with the
// leaf's key, as the Notary Project certificate rules require.
func testPKI(t *testing.T) (*ecdsa.PrivateKey, []*x509.Certificate) {
	t.Helper()
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rootTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hallmark test root", Organization: []string{"hallmark"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(rootDER)
	if err != nil {
		t.Fatal(err)
	}

	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "hallmark test signer", Organization: []string{"hallmark"}, Country: []string{"US"}, Province: []string{"WA"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(12 * time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, root, &leafKey.PublicKey, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	return leafKey, []*x509.Certificate{leaf, root}
}

// memTrustStore is a one-store truststore.X509TrustStore.
type memTrustStore struct{ roots []*x509.Certificate }

func (m memTrustStore) GetCertificates(_ context.Context, typ truststore.Type, name string) ([]*x509.Certificate, error) {
	if typ != truststore.TypeCA || name != "test" {
		return nil, errors.New("no such trust store")
	}
	return m.roots, nil
}

func testVerifier(t *testing.T, root *x509.Certificate) notation.Verifier {
	t.Helper()
	policy := &trustpolicy.Document{
		Version: "1.0",
		TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:           "all",
			RegistryScopes: []string{"*"},
			SignatureVerification: trustpolicy.SignatureVerification{
				VerificationLevel: trustpolicy.LevelStrict.Name,
			},
			TrustStores:       []string{"ca:test"},
			TrustedIdentities: []string{"*"},
		}},
	}
	v, err := verifier.New(policy, memTrustStore{roots: []*x509.Certificate{root}}, nil)
	if err != nil {
		t.Fatalf("verifier.New() error = %v", err)
	}
	return v
}

// TestNotationSignVerify proves that notation.Sign and notation.Verify work
// through NotationRepository, on both kinds of registry.
func TestNotationSignVerify(t *testing.T) {
	key, chain := testPKI(t)
	s, err := signer.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier(t, chain[len(chain)-1])

	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := t.Context()
			host := startRegistry(t, mode.referrers)
			subject := pushImage(t, host, "app", "v1", "sign-verify")
			ref := host + "/app@" + subject.Digest.String()
			c := newClient(t, oci.Options{})

			signRepo, err := c.NotationRepository(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := notation.Sign(ctx, s, signRepo, notation.SignOptions{
				SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: jwsMediaType},
				ArtifactReference: ref,
			}); err != nil {
				t.Fatalf("notation.Sign() error = %v", err)
			}

			verifyRepo, err := c.NotationRepository(ctx, ref)
			if err != nil {
				t.Fatal(err)
			}
			desc, outcomes, err := notation.Verify(ctx, v, verifyRepo, notation.VerifyOptions{
				ArtifactReference:    ref,
				MaxSignatureAttempts: 10,
			})
			if err != nil {
				t.Fatalf("notation.Verify() error = %v", err)
			}
			if desc.Digest != subject.Digest || len(outcomes) != 1 {
				t.Errorf("notation.Verify() = %s with %d outcomes, want %s with 1", desc.Digest, len(outcomes), subject.Digest)
			}
			if err := verifyRepo.RegistryErr(); err != nil {
				t.Errorf("RegistryErr() = %v, want nil after a clean verification", err)
			}

			// Another image in the same repository has no signature: that
			// is a definitive failure, not a registry one.
			other := pushImage(t, host, "app", "v2", "unsigned")
			otherRef := host + "/app@" + other.Digest.String()
			otherRepo, err := c.NotationRepository(ctx, otherRef)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := notation.Verify(ctx, v, otherRepo, notation.VerifyOptions{
				ArtifactReference: otherRef, MaxSignatureAttempts: 10,
			}); err == nil {
				t.Fatal("notation.Verify(unsigned) error = nil, want a failure")
			}
			if err := otherRepo.RegistryErr(); err != nil {
				t.Errorf("RegistryErr() = %v, want nil: no signature is not a registry failure", err)
			}
		})
	}
}

// TestNotationRepositoryRegistryErr shows why RegistryErr exists:
// notation.Verify turns a registry failure into text, and only the
// repository still knows it was transient.
func TestNotationRepositoryRegistryErr(t *testing.T) {
	srv := statusServer(t, http.StatusServiceUnavailable, "UNAVAILABLE")
	ref := hostOf(srv) + "/app@" + testDigest
	_, chain := testPKI(t)
	v := testVerifier(t, chain[len(chain)-1])
	c := newClient(t, oci.Options{})

	repo, err := c.NotationRepository(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = notation.Verify(t.Context(), v, repo, notation.VerifyOptions{ArtifactReference: ref, MaxSignatureAttempts: 10})
	if err == nil {
		t.Fatal("notation.Verify() error = nil, want a failure")
	}
	regErr := repo.RegistryErr()
	if !oci.IsTransient(regErr) || !errors.Is(regErr, oci.ErrUnavailable) {
		t.Errorf("RegistryErr() = %v, want transient ErrUnavailable", regErr)
	}
	if !strings.Contains(err.Error(), "503") {
		t.Errorf("notation.Verify() error = %q, want the classified text to say 503", err)
	}
}

// TestPushSignatureIndexNotDeleted: on a registry without the referrers API
// that refuses deletes (the distribution registry's default), a second
// signature's push cannot delete the outdated referrers tag index. The
// signature is in place, and PushSignature still returns its manifest, so
// that `hallmark sign` can print its digest.
func TestPushSignatureIndexNotDeleted(t *testing.T) {
	ctx := t.Context()
	backend, _ := url.Parse("http://" + startRegistry(t, false))
	proxy := httputil.NewSingleHostReverseProxy(backend)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			http.Error(w, `{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`, http.StatusMethodNotAllowed)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	host := hostOf(front)
	subject := pushImage(t, host, "app", "v1", "index-not-deleted")
	ref := host + "/app@" + subject.Digest.String()
	c := newClient(t, oci.Options{})

	var pushed []string
	for i, blob := range []string{`{"sig":1}`, `{"sig":2}`} {
		repo, err := c.NotationRepository(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		_, manifest, err := repo.PushSignature(ctx, jwsMediaType, []byte(blob), subject, nil)
		if err != nil {
			t.Fatalf("push %d: %v", i+1, err)
		}
		if manifest.Digest == "" {
			t.Fatalf("push %d returned no signature manifest (warnings %q)", i+1, repo.Warnings())
		}
		if i == 1 && len(repo.Warnings()) != 1 {
			t.Errorf("push 2: warnings %q, want the one about the referrers index", repo.Warnings())
		}
		pushed = append(pushed, manifest.Digest.String())
	}
	_, sigs, err := c.ListSignatures(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, s := range sigs {
		listed = append(listed, s.Digest.String())
	}
	for _, d := range pushed {
		if !slices.Contains(listed, d) {
			t.Errorf("pushed signature manifest %s is not among the listed %v", d, listed)
		}
	}
}
