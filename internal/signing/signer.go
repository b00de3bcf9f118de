package signing

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// MediaTypePayload is the content type of the signed payload, fixed by the
// Notary Project signature specification.
const MediaTypePayload = "application/vnd.cncf.notary.payload.v1+json"

// payload is the signed document: the descriptor of the artifact.
type payload struct {
	TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
}

// NotationSigner implements notation.Signer with a crypto.Signer, so
// notation.Sign can use keys it cannot hold in memory. See the package
// documentation for why this is not an in-process plugin.
type NotationSigner struct {
	raw *RawSigner
}

var _ notation.Signer = (*NotationSigner)(nil)

// NewNotationSigner returns a notation.Signer for signer and its chain, leaf
// first and ending in the root. It fails with ErrUnsupportedKey or
// ErrKeyMismatch; the chain rules are checked at each signature.
func NewNotationSigner(signer crypto.Signer, chain []*x509.Certificate) (*NotationSigner, error) {
	raw, err := NewRawSigner(signer, chain)
	if err != nil {
		return nil, err
	}
	return &NotationSigner{raw: raw}, nil
}

// Sign implements notation.Signer: it signs the payload for desc into an
// envelope of opts.SignatureMediaType and returns the envelope and what it
// says about the signer. The envelope is verified before it is returned.
// opts.SigningAgent "" means DefaultSigningAgent(); opts.PluginConfig is
// ignored, as no plugin is involved.
func (s *NotationSigner) Sign(ctx context.Context, desc ocispec.Descriptor, opts notation.SignerSignOptions) ([]byte, *signature.SignerInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if (opts.Timestamper == nil) != (opts.TSARootCAs == nil) {
		return nil, nil, fmt.Errorf("%w: a timestamper and TSA root certificates go together", ErrInvalidOptions)
	}
	if opts.ExpiryDuration < 0 {
		return nil, nil, fmt.Errorf("%w: negative expiry %s", ErrInvalidOptions, opts.ExpiryDuration)
	}
	env, err := signature.NewEnvelope(opts.SignatureMediaType)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}

	// The envelope truncates times to seconds; do it first so the chain is
	// checked at exactly the signing time that is signed.
	now := time.Now().Truncate(time.Second)
	if err := checkChain(s.raw.chain, now); err != nil {
		return nil, nil, err
	}

	content, err := json.Marshal(payload{TargetArtifact: targetArtifact(desc)})
	if err != nil {
		return nil, nil, fmt.Errorf("encoding signature payload: %w", err)
	}
	agent := opts.SigningAgent
	if agent == "" {
		agent = DefaultSigningAgent()
	}
	req := &signature.SignRequest{
		Payload:                signature.Payload{ContentType: MediaTypePayload, Content: content},
		Signer:                 s.raw,
		SigningTime:            now,
		SigningScheme:          signature.SigningSchemeX509,
		SigningAgent:           agent,
		Timestamper:            opts.Timestamper,
		TSARootCAs:             opts.TSARootCAs,
		TSARevocationValidator: opts.TSARevocationValidator,
	}
	if opts.ExpiryDuration != 0 {
		req.Expiry = now.Add(opts.ExpiryDuration)
	}

	sig, err := env.Sign(req.WithContext(ctx))
	if err != nil {
		return nil, nil, signError(err)
	}
	// Verify what we made, as notation-go's own signers do: it proves the
	// envelope carries the signature, chain and attributes we meant, and it
	// is what notation.Sign reads the chain thumbprints from.
	got, err := env.Verify()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the new envelope does not verify: %v", ErrBadSignature, err)
	}
	if got.Payload.ContentType != MediaTypePayload {
		return nil, nil, fmt.Errorf("%w: the new envelope has content type %q", ErrBadSignature, got.Payload.ContentType)
	}
	return sig, &got.SignerInfo, nil
}

// signError maps notation-core-go's errors onto ours where a caller may act
// on them.
func signError(err error) error {
	var tsErr *signature.TimestampError
	if errors.As(err, &tsErr) {
		return fmt.Errorf("%w: %v", ErrTimestamp, err)
	}
	var invalid *signature.InvalidSignatureError
	if errors.As(err, &invalid) && strings.HasPrefix(invalid.Msg, "certificate-chain is invalid") {
		return chainError(errors.New(strings.TrimPrefix(invalid.Msg, "certificate-chain is invalid, ")))
	}
	return fmt.Errorf("signing: %w", err)
}

// targetArtifact keeps the descriptor fields the Notary Project payload
// defines. notation-go's verifier compares mediaType, digest and size with
// the resolved manifest and annotations with the requested user metadata;
// anything else (urls, platform, data) has no place in a signed statement.
func targetArtifact(desc ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{
		MediaType:   desc.MediaType,
		Digest:      desc.Digest,
		Size:        desc.Size,
		Annotations: desc.Annotations,
	}
}

// Sign signs the artifact at reference in repo and pushes the signature to
// it, returning the descriptor of the signature manifest. reference must name
// a digest ("registry/repo@sha256:..." or, for an OCI layout, "sha256:..."),
// so the signature covers exactly the image the caller meant and not
// whatever a tag points at by the time it is resolved.
func Sign(ctx context.Context, signer crypto.Signer, chain []*x509.Certificate, repo notationregistry.Repository, reference string, opts Options) (ocispec.Descriptor, error) {
	// SignWith checks the options, the repository and the reference.
	ns, err := NewNotationSigner(signer, chain)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return SignWith(ctx, ns, repo, reference, opts)
}

// SignWith is Sign with any notation.Signer, such as notation-go's
// PluginSigner driving a notation plugin: the signer makes the envelope, and
// notation.Sign checks it and pushes it. opts.SigningAgent is passed on, but
// a PluginSigner replaces it with its own.
func SignWith(ctx context.Context, s notation.Signer, repo notationregistry.Repository, reference string, opts Options) (ocispec.Descriptor, error) {
	if err := opts.Validate(); err != nil {
		return ocispec.Descriptor{}, err
	}
	if repo == nil || s == nil {
		return ocispec.Descriptor{}, errors.New("signing: nil repository or signer")
	}
	if err := requireDigest(reference); err != nil {
		return ocispec.Descriptor{}, err
	}
	so, err := opts.signerSignOptions()
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	rec := &pushRecorder{Repository: repo}
	if _, err := notation.Sign(ctx, s, rec, notation.SignOptions{
		SignerSignOptions: so,
		ArtifactReference: reference,
		UserMetadata:      opts.UserMetadata,
	}); err != nil {
		return ocispec.Descriptor{}, err
	}
	return rec.manifest, nil
}

// pushRecorder keeps the signature manifest descriptor that notation.Sign
// (v1.3.x) pushes but does not return.
type pushRecorder struct {
	notationregistry.Repository
	manifest ocispec.Descriptor
}

func (r *pushRecorder) PushSignature(ctx context.Context, mediaType string, blob []byte, subject ocispec.Descriptor, annotations map[string]string) (ocispec.Descriptor, ocispec.Descriptor, error) {
	blobDesc, manifestDesc, err := r.Repository.PushSignature(ctx, mediaType, blob, subject, annotations)
	if err == nil {
		r.manifest = manifestDesc
	}
	return blobDesc, manifestDesc, err
}

// requireDigest accepts "host/repo@<digest>" or a bare digest. The
// reference is read by oci.ParseReference, the one parser of image
// references, so its length cap and tag check apply to signing too.
func requireDigest(reference string) error {
	if ref, err := oci.ParseReference(reference); err == nil {
		if ref.ValidateReferenceAsDigest() == nil {
			return nil
		}
	} else if _, err := digest.Parse(reference); err == nil {
		return nil
	}
	return fmt.Errorf("%w: %q is not of the form registry/repository@sha256:...; resolve the tag first so the signature covers the exact image", ErrNotDigest, reference)
}

// SignEnvelope signs the artifact described by desc and returns the envelope
// and its media type, without touching a registry. It is the building block
// for benchmarks and for a notation plugin binary; Sign is the usual entry
// point. opts.UserMetadata is added to desc's annotations and must not
// collide with them.
func SignEnvelope(ctx context.Context, signer crypto.Signer, chain []*x509.Certificate, desc ocispec.Descriptor, opts Options) ([]byte, string, error) {
	if err := opts.Validate(); err != nil {
		return nil, "", err
	}
	if err := desc.Digest.Validate(); err != nil {
		return nil, "", fmt.Errorf("signing: artifact descriptor digest %q: %w", desc.Digest, err)
	}
	if desc.MediaType == "" || desc.Size < 0 {
		return nil, "", errors.New("signing: artifact descriptor needs a media type and a non-negative size")
	}
	if len(opts.UserMetadata) > 0 {
		annotations := maps.Clone(desc.Annotations)
		if annotations == nil {
			annotations = make(map[string]string, len(opts.UserMetadata))
		}
		for k, v := range opts.UserMetadata {
			if _, ok := annotations[k]; ok {
				return nil, "", fmt.Errorf("%w: user metadata key %q is already an annotation of the artifact", ErrInvalidOptions, k)
			}
			annotations[k] = v
		}
		desc.Annotations = annotations
	}
	ns, err := NewNotationSigner(signer, chain)
	if err != nil {
		return nil, "", err
	}
	so, err := opts.signerSignOptions()
	if err != nil {
		return nil, "", err
	}
	env, _, err := ns.Sign(ctx, desc, so)
	if err != nil {
		return nil, "", err
	}
	return env, so.SignatureMediaType, nil
}
