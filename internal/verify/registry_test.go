package verify

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/registry/remote"
)

// Test helpers for a real registry: go-containerregistry's in-process
// registry behind httptest, with or without the OCI referrers API, reached
// through oras-go exactly as in production.

type testRegistry struct {
	host string // 127.0.0.1:PORT
}

func newTestRegistry(t testing.TB, referrersAPI bool) *testRegistry {
	t.Helper()
	h := registry.New(registry.WithReferrersSupport(referrersAPI), registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &testRegistry{host: strings.TrimPrefix(srv.URL, "http://")}
}

// plainHTTPRepositories implements Repositories over plain-HTTP oras-go
// repositories, standing in for internal/oci's client. It does not retry,
// so that tests of 429 and 5xx answers take no time.
type plainHTTPRepositories struct{}

func (plainHTTPRepositories) NotationRepository(ctx context.Context, ref string) (notationregistry.Repository, error) {
	r, err := remote.NewRepository(ref)
	if err != nil {
		return nil, err
	}
	r.PlainHTTP = true
	r.Client = &http.Client{}
	return notationregistry.NewRepository(r), nil
}

func (tr *testRegistry) repo(t testing.TB, name string) *remote.Repository {
	t.Helper()
	r, err := remote.NewRepository(tr.host + "/" + name)
	if err != nil {
		t.Fatal(err)
	}
	r.PlainHTTP = true
	return r
}

// pushImage pushes a one-layer image tagged tag and returns its manifest
// descriptor. content makes the digest unique.
func (tr *testRegistry) pushImage(t testing.TB, name, tag, content string) ocispec.Descriptor {
	t.Helper()
	ctx := context.Background()
	r := tr.repo(t, name)
	layer, err := oras.PushBytes(ctx, r, ocispec.MediaTypeImageLayer, []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	config, err := oras.PushBytes(ctx, r, ocispec.MediaTypeImageConfig, []byte(`{"architecture":"amd64","os":"linux"}`))
	if err != nil {
		t.Fatal(err)
	}
	desc, err := oras.PackManifest(ctx, r, oras.PackManifestVersion1_1, "", oras.PackManifestOptions{
		ConfigDescriptor: &config,
		Layers:           []ocispec.Descriptor{layer},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Tag(ctx, desc, tag); err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}
}

func (tr *testRegistry) ref(name string, desc ocispec.Descriptor) string {
	return tr.host + "/" + name + "@" + desc.Digest.String()
}

// sign signs the image with notation-go, as `hallmark sign` will.
func (tr *testRegistry) sign(t testing.TB, name string, desc ocispec.Descriptor, key crypto.PrivateKey, chain []*x509.Certificate, mediaType string) {
	t.Helper()
	s, err := signer.NewGenericSigner(key, chain)
	if err != nil {
		t.Fatal(err)
	}
	_, err = notation.Sign(context.Background(), s, notationregistry.NewRepository(tr.repo(t, name)), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: mediaType},
		ArtifactReference: tr.ref(name, desc),
	})
	if err != nil {
		t.Fatalf("notation.Sign: %v", err)
	}
}

// envelope builds a signature envelope for target by hand with
// notation-core-go, which accepts signing and expiry times that notation's
// Sign would not (times in the past, certificates valid back then).
func envelope(t testing.TB, mediaType string, key crypto.PrivateKey, chain []*x509.Certificate, target ocispec.Descriptor, signedAt, expiry time.Time) []byte {
	t.Helper()
	payload, err := json.Marshal(map[string]any{"targetArtifact": ocispec.Descriptor{MediaType: target.MediaType, Digest: target.Digest, Size: target.Size}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := signature.NewLocalSigner(chain, key)
	if err != nil {
		t.Fatal(err)
	}
	env, err := signature.NewEnvelope(mediaType)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := env.Sign(&signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        s,
		SigningTime:   signedAt,
		Expiry:        expiry,
		SigningScheme: signature.SigningSchemeX509,
		SigningAgent:  "hallmark-test",
	})
	if err != nil {
		t.Fatalf("sign envelope: %v", err)
	}
	return blob
}

// pushEnvelope stores blob as a signature of subject.
func (tr *testRegistry) pushEnvelope(t testing.TB, name string, subject ocispec.Descriptor, mediaType string, blob []byte, chain []*x509.Certificate) {
	t.Helper()
	var prints []string
	for _, c := range chain {
		sum := sha256.Sum256(c.Raw)
		prints = append(prints, hex.EncodeToString(sum[:]))
	}
	thumbprints, _ := json.Marshal(prints)
	repo := notationregistry.NewRepository(tr.repo(t, name))
	_, _, err := repo.PushSignature(context.Background(), mediaType, blob, subject, map[string]string{
		"io.cncf.notary.x509chain.thumbprint#S256": string(thumbprints),
	})
	if err != nil {
		t.Fatalf("push signature: %v", err)
	}
}
