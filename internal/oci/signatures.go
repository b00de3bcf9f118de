package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	notationregistry "github.com/notaryproject/notation-go/registry"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
)

// ArtifactTypeSignature is the artifact type of a Notary Project signature:
// the manifest's artifactType (OCI 1.1 shape) or its config.mediaType
// (legacy shape, written by notation-go v1.x), and what a referrers list
// reports either way.
const ArtifactTypeSignature = notationregistry.ArtifactTypeNotation

// mediaTypeArtifactManifest is the OCI artifact manifest from the image-spec
// 1.1 release candidates, which has blobs instead of layers. Early notation
// releases wrote it and notation-go still reads it, so hallmark does too.
const mediaTypeArtifactManifest = "application/vnd.oci.artifact.manifest.v1+json"

// Size caps for signature content, the same as notation-go's so that
// anything notation accepts, hallmark accepts, and nothing bigger is read.
const (
	// maxSignatureManifestBytes: a signature manifest is a few hundred
	// bytes plus annotations; 4 MiB is notation-go's limit.
	maxSignatureManifestBytes = 4 << 20
	// maxEnvelopeBytes: an envelope holds a payload and a certificate chain
	// (with a timestamp token, a few KiB to some tens of KiB); 32 MiB is
	// notation-go's limit.
	maxEnvelopeBytes = 32 << 20
	// maxListedSignatures bounds a listing. oras-go follows referrers pages
	// without a page limit, so a hostile registry could otherwise page
	// forever; notation stops verifying after 100 signatures by default,
	// and no real image carries anywhere near 1000.
	maxListedSignatures = 1000
)

// ListSignatures resolves ref and lists the Notary Project signatures that
// refer to it, in the registry's order. It uses the referrers API and falls
// back to the referrers tag schema when the registry lacks the API (oras-go
// detects this on the first call); Options.ForceReferrersTag does not change
// listing. Both manifest shapes are found, since the referrers list carries
// the signature artifact type for either. Descriptors other than image (or
// legacy artifact) manifests are left out, as they cannot hold a signature.
//
// It returns the subject's descriptor and the signature manifests'
// descriptors; no signatures is not an error.
func (c *Client) ListSignatures(ctx context.Context, ref string) (subject ocispec.Descriptor, sigs []ocispec.Descriptor, err error) {
	r, err := c.parseWithReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	repo := c.repository(r, false)
	subject, err = c.resolve(ctx, repo, r)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	t := c.targetOf(r)
	t.tag, t.digest = "", subject.Digest.String()

	errTooMany := &Error{
		Kind:     ErrTooLarge,
		Registry: r.Registry,
		Summary:  fmt.Sprintf("%s has more than %d signatures; hallmark lists at most that many", t.repoName()+"@"+t.digest, maxListedSignatures),
	}
	err = c.referrers(ctx, r.Registry, repo, subject, ArtifactTypeSignature, func(page []ocispec.Descriptor) error {
		for _, d := range page {
			if d.MediaType != ocispec.MediaTypeImageManifest && d.MediaType != mediaTypeArtifactManifest {
				continue
			}
			if len(sigs) == maxListedSignatures {
				return errTooMany
			}
			sigs = append(sigs, d)
		}
		return nil
	})
	if err != nil {
		return ocispec.Descriptor{}, nil, classify(err, t)
	}
	return subject, sigs, nil
}

// FetchSignature fetches the signature manifest sigManifest from ref's
// repository (ref's tag or digest is ignored), checks that it is a Notary
// Project signature in either shape, and fetches its envelope. Both are
// verified against their descriptors' digests and sizes, and refused with
// ErrTooLarge above notation-go's limits before anything is read. Neither is
// allocated at the size the registry declares: buffers grow with the bytes
// that arrive.
//
// A legacy artifact manifest is returned as an ocispec.Manifest with its
// blobs as layers and its media type kept.
func (c *Client) FetchSignature(ctx context.Context, ref string, sigManifest ocispec.Descriptor) (manifest ocispec.Manifest, envelopeMediaType string, envelope []byte, err error) {
	r, err := c.parse(ref)
	if err != nil {
		return ocispec.Manifest{}, "", nil, err
	}
	t := c.targetOf(r)
	manifest, envDesc, envelope, err := c.fetchSignature(ctx, c.repository(r, false), t, sigManifest, nil)
	return manifest, envDesc.MediaType, envelope, err
}

// fetchSignature is FetchSignature on repo, whose target is t: both reads
// go through readCapped, taking from h what they hold.
func (c *Client) fetchSignature(ctx context.Context, repo *remote.Repository, t target, sigManifest ocispec.Descriptor, h *holding) (ocispec.Manifest, ocispec.Descriptor, []byte, error) {
	t.tag, t.digest = "", sigManifest.Digest.String()
	where := t.repoName() + "@" + t.digest

	notSig := func(format string, args ...any) error {
		return &Error{Kind: ErrNotSignature, Registry: t.registry, Summary: where + ": " + fmt.Sprintf(format, args...)}
	}
	overBudget := func(err error) error {
		if !errors.Is(err, errOverBudget) {
			return nil
		}
		return &Error{Kind: ErrOverloaded, Registry: t.registry,
			Summary: fmt.Sprintf("hallmark already holds the most signature data it allows at once (%d bytes) for the verifications in progress; retry", c.budget.max),
			Err:     err}
	}
	if sigManifest.MediaType != ocispec.MediaTypeImageManifest && sigManifest.MediaType != mediaTypeArtifactManifest {
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, notSig("media type %q is not a manifest that can hold a signature", sigManifest.MediaType)
	}
	if sigManifest.Size > maxSignatureManifestBytes {
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, &Error{Kind: ErrTooLarge, Registry: t.registry,
			Summary: fmt.Sprintf("signature manifest %s is %d bytes, more than the %d accepted", where, sigManifest.Size, maxSignatureManifestBytes)}
	}
	raw, err := fetchCapped(ctx, repo.Manifests(), sigManifest, maxSignatureManifestBytes, h)
	if err != nil {
		if e := overBudget(err); e != nil {
			return ocispec.Manifest{}, ocispec.Descriptor{}, nil, e
		}
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, classify(err, t)
	}
	manifest, err := decodeManifest(sigManifest.MediaType, raw)
	if err != nil {
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, notSig("cannot decode the manifest: %v", err)
	}
	if manifest.ArtifactType != ArtifactTypeSignature && manifest.Config.MediaType != ArtifactTypeSignature {
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, notSig("neither artifactType nor config.mediaType is %s", ArtifactTypeSignature)
	}
	if len(manifest.Layers) != 1 {
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, notSig("has %d layers, want exactly one envelope", len(manifest.Layers))
	}

	env := manifest.Layers[0]
	if env.Size > maxEnvelopeBytes {
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, &Error{Kind: ErrTooLarge, Registry: t.registry,
			Summary: fmt.Sprintf("signature envelope of %s is %d bytes, more than the %d accepted", where, env.Size, maxEnvelopeBytes)}
	}
	envelope, err := fetchCapped(ctx, repo.Blobs(), env, maxEnvelopeBytes, h)
	if err != nil {
		if e := overBudget(err); e != nil {
			return ocispec.Manifest{}, ocispec.Descriptor{}, nil, e
		}
		bt := t
		bt.digest, bt.blob = env.Digest.String(), true
		return ocispec.Manifest{}, ocispec.Descriptor{}, nil, classify(err, bt)
	}
	return manifest, env, envelope, nil
}

// decodeManifest decodes an image manifest, or a legacy artifact manifest
// into the image manifest shape.
func decodeManifest(mediaType string, raw []byte) (ocispec.Manifest, error) {
	if mediaType != mediaTypeArtifactManifest {
		var m ocispec.Manifest
		err := json.Unmarshal(raw, &m)
		return m, err
	}
	var a struct {
		MediaType    string               `json:"mediaType"`
		ArtifactType string               `json:"artifactType"`
		Blobs        []ocispec.Descriptor `json:"blobs"`
		Subject      *ocispec.Descriptor  `json:"subject"`
		Annotations  map[string]string    `json:"annotations"`
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return ocispec.Manifest{}, err
	}
	return ocispec.Manifest{
		MediaType:    mediaTypeArtifactManifest,
		ArtifactType: a.ArtifactType,
		Layers:       a.Blobs,
		Subject:      a.Subject,
		Annotations:  a.Annotations,
	}, nil
}

// NotationRepository is the repository notation-go signs into and verifies
// from (it implements notation-go's registry.Repository). It adds to
// notation-go's own implementation:
//
//   - reads (Resolve, ListSignatures, FetchSignatureBlob) always try the
//     referrers API first, while PushSignature honours
//     Options.ForceReferrersTag;
//   - every error is classified (see Classify), and the first one is kept
//     for RegistryErr, because notation.Verify flattens registry errors into
//     strings and a caller could not otherwise tell "no signature" from
//     "registry down";
//   - a failure to delete the outdated referrers tag index after a push,
//     which leaves the signature pushed, is a warning (see Warnings), not an
//     error.
//
// Create one per signing or verification; it is safe for concurrent use.
type NotationRepository struct {
	client      *Client
	repo        *remote.Repository // what read reads from
	read, write notationregistry.Repository
	// pushed sees the manifests write pushes, for the signature manifest's
	// descriptor that notation-go does not return when the referrers index
	// clean-up failed.
	pushed *manifestRecorder
	target target
	// holding is the signature data this verification holds against the
	// client's budget, until Release.
	holding *holding

	mu       sync.Mutex
	firstErr error
	warnings []string
}

var _ notationregistry.Repository = (*NotationRepository)(nil)

// Repositories hands c's repositories out as notation-go's interface, for
// consumers that declare it (the verification engine's Repositories).
type Repositories struct{ Client *Client }

// NotationRepository is Client.NotationRepository, returning the interface.
func (r Repositories) NotationRepository(ctx context.Context, ref string) (notationregistry.Repository, error) {
	repo, err := r.Client.NotationRepository(ctx, ref)
	if err != nil {
		return nil, err // never a typed nil inside the interface
	}
	return repo, nil
}

// NotationRepository returns the repository for ref's repository, to pass to
// notation.Sign or notation.Verify with ref as the artifact reference.
// notation-go v1.3 pushes signatures in the legacy shape
// (config.mediaType = application/vnd.cncf.notary.signature, no
// artifactType). ctx is unused today and reserved for credential lookups
// that may need I/O.
func (c *Client) NotationRepository(ctx context.Context, ref string) (*NotationRepository, error) {
	r, err := c.parse(ref)
	if err != nil {
		return nil, err
	}
	repo := c.repository(r, false)
	pushed := &manifestRecorder{Repository: c.repository(r, c.opts.ForceReferrersTag)}
	return &NotationRepository{
		client:  c,
		repo:    repo,
		read:    notationregistry.NewRepository(repo),
		write:   notationregistry.NewRepository(pushed),
		pushed:  pushed,
		target:  target{registry: r.Registry, repository: r.Repository, plainHTTP: c.plainHTTP(r.Registry)},
		holding: &holding{budget: c.budget},
	}, nil
}

// Resolve resolves a tag or digest in the repository.
func (n *NotationRepository) Resolve(ctx context.Context, reference string) (ocispec.Descriptor, error) {
	desc, err := n.read.Resolve(ctx, reference)
	t := n.target
	if (registry.Reference{Reference: reference}).ValidateReferenceAsDigest() == nil {
		t.digest = reference
	} else {
		t.tag = reference
	}
	return desc, n.record(err, t)
}

// ListSignatures lists signature manifests referring to desc, page by page.
func (n *NotationRepository) ListSignatures(ctx context.Context, desc ocispec.Descriptor, fn func(signatureManifests []ocispec.Descriptor) error) error {
	t := n.target
	t.digest = desc.Digest.String()
	if descs, ok, err := n.client.sharedReferrers(ctx, n.target.registry, n.repo, desc); ok {
		if err != nil {
			return n.record(err, t)
		}
		// What notation-go's listing asks the registry for: referrers of
		// the signature artifact type. The caller's error (notation uses
		// one to stop early) is not a registry failure.
		if sigs := ofArtifactType(descs, ArtifactTypeSignature); len(sigs) > 0 {
			return fn(slices.Clone(sigs))
		}
		return nil
	}
	var fnErr error
	err := n.client.listReferrers(ctx, n.target.registry, n.repo, func(paged func()) error {
		return n.read.ListSignatures(ctx, desc, func(page []ocispec.Descriptor) error {
			paged()
			fnErr = fn(page)
			return fnErr
		})
	})
	if err != nil && fnErr != nil && errors.Is(err, fnErr) {
		// The caller's own error is not a registry failure either.
		return err
	}
	return n.record(err, t)
}

// FetchSignatureBlob fetches the envelope of the signature manifest desc,
// under notation-go's size caps, as FetchSignature does: never allocated at
// a declared size, and held against the client's budget for signature data
// (Options.MaxSignatureBytes) until Release. Over the budget, it fails at
// once with ErrOverloaded rather than wait.
func (n *NotationRepository) FetchSignatureBlob(ctx context.Context, desc ocispec.Descriptor) ([]byte, ocispec.Descriptor, error) {
	_, blobDesc, blob, err := n.client.fetchSignature(ctx, n.repo, n.target, desc, n.holding)
	t := n.target
	t.digest = desc.Digest.String()
	return blob, blobDesc, n.record(err, t)
}

// Release gives back the signature data this repository's verification
// held against the client's budget. Call it when the verification is over;
// the fetched envelopes must no longer be used.
func (n *NotationRepository) Release() {
	n.holding.release()
}

// PushSignature pushes the envelope blob and a signature manifest for
// subject. When only the clean-up of the outdated referrers tag index
// failed, the signature is in place: that is recorded in Warnings, and
// PushSignature succeeds with a zero manifestDesc, which notation.Sign does
// not use.
func (n *NotationRepository) PushSignature(ctx context.Context, mediaType string, blob []byte, subject ocispec.Descriptor, annotations map[string]string) (blobDesc, manifestDesc ocispec.Descriptor, err error) {
	blobDesc, manifestDesc, err = n.write.PushSignature(ctx, mediaType, blob, subject, annotations)
	var refErr *remote.ReferrersError
	if errors.As(err, &refErr) && refErr.IsReferrersIndexDelete() {
		n.warn(fmt.Sprintf("signature pushed, but the outdated referrers index of %s@%s could not be deleted; the registry may need garbage collection: %s",
			n.target.repoName(), subject.Digest, redact(err.Error())))
		if manifestDesc.Digest == "" {
			manifestDesc = n.pushed.manifest()
		}
		return blobDesc, manifestDesc, nil
	}
	t := n.target
	t.digest = subject.Digest.String()
	return blobDesc, manifestDesc, n.record(err, t)
}

// RegistryErr returns the first registry error any method returned, already
// classified, or nil. After notation.Verify or notation.Sign fails, it tells
// whether the registry was at fault (and with IsTransient, whether to retry)
// where notation's own error has only the text.
func (n *NotationRepository) RegistryErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.firstErr
}

// Warnings returns problems that did not fail an operation, for the caller
// to show.
func (n *NotationRepository) Warnings() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.warnings)
}

func (n *NotationRepository) record(err error, t target) error {
	if err == nil {
		return nil
	}
	err = classify(err, t)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.firstErr == nil {
		n.firstErr = err
	}
	return err
}

func (n *NotationRepository) warn(msg string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.warnings = append(n.warnings, msg)
}

// manifestRecorder remembers the last image manifest pushed through it that
// reached the registry, including one whose push failed only at the
// referrers index clean-up that follows it.
type manifestRecorder struct {
	*remote.Repository

	mu   sync.Mutex
	last ocispec.Descriptor
}

// Push pushes as the repository does, and records the manifest.
func (m *manifestRecorder) Push(ctx context.Context, expected ocispec.Descriptor, content io.Reader) error {
	err := m.Repository.Push(ctx, expected, content)
	var refErr *remote.ReferrersError
	if expected.MediaType == ocispec.MediaTypeImageManifest && (err == nil || errors.As(err, &refErr) && refErr.IsReferrersIndexDelete()) {
		m.mu.Lock()
		m.last = expected
		m.mu.Unlock()
	}
	return err
}

func (m *manifestRecorder) manifest() ocispec.Descriptor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}
