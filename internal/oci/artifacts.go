package oci

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
)

// Referrers lists the manifests in ref's repository whose subject is
// subject, in the registry's order, through the referrers API or the
// referrers tag schema where the registry lacks it. artifactType filters
// the list; empty lists every referrer. The tag schema's index carries the
// artifact type its writer put there, which is not always the manifest's
// own (cosign writes an empty one for Sigstore bundles): a caller that
// must not miss such a referrer lists with an empty artifactType and reads
// the manifests. At most maxListedSignatures referrers are listed; more is
// ErrTooLarge.
func (c *Client) Referrers(ctx context.Context, ref string, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	repo := c.repository(r, false)
	t := targetOf(r)
	t.tag, t.digest = "", subject.Digest.String()
	if descs, ok, err := c.sharedReferrers(ctx, r.Registry, repo, subject); ok {
		if err != nil {
			return nil, classify(err, t)
		}
		return slices.Clone(ofArtifactType(descs, artifactType)), nil
	}
	var out []ocispec.Descriptor
	errTooMany := &Error{
		Kind:     ErrTooLarge,
		Registry: r.Registry,
		Summary:  fmt.Sprintf("%s has more than %d referrers; hallmark lists at most that many", t.repoName()+"@"+t.digest, maxListedSignatures),
	}
	err = c.referrers(ctx, r.Registry, repo, subject, artifactType, func(page []ocispec.Descriptor) error {
		for _, d := range page {
			if len(out) == maxListedSignatures {
				return errTooMany
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, classify(err, t)
	}
	return out, nil
}

// FetchTagged fetches the manifest ref names (by tag or digest) in one
// request, with its descriptor: what Resolve and FetchManifest do in two
// round trips. For a caller to whom a missing tag is an answer (cosign's
// signature tag, absent from most images), a 404 is ErrNotFound at once,
// without the request by which Resolve tells a missing repository from a
// missing tag.
// The bytes must match the descriptor: the digest the registry states (or,
// when it states none, the one computed from them) and the size it sent.
// A manifest larger than limit is refused with ErrTooLarge.
func (c *Client) FetchTagged(ctx context.Context, ref string, limit int64) (ocispec.Descriptor, []byte, error) {
	r, err := c.parseWithReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, nil, err
	}
	t := c.targetOf(r)
	desc, rc, err := c.repository(r, false).FetchReference(ctx, r.Reference)
	if err != nil {
		return ocispec.Descriptor{}, nil, classify(err, t)
	}
	defer rc.Close()
	if desc.Size > limit || desc.Size < 0 {
		return ocispec.Descriptor{}, nil, &Error{Kind: ErrTooLarge, Registry: r.Registry,
			Summary: fmt.Sprintf("manifest %s is %d bytes, more than the %d accepted", r, desc.Size, limit)}
	}
	if r.ValidateReferenceAsDigest() == nil && desc.Digest.String() != r.Reference {
		return ocispec.Descriptor{}, nil, fmt.Errorf("registry %s answered %s for %s", r.Registry, desc.Digest, r)
	}
	data, err := readCapped(rc, desc, limit, nil)
	if err != nil {
		return ocispec.Descriptor{}, nil, fmt.Errorf("reading manifest %s: %w", r, classify(err, t))
	}
	return desc, data, nil
}

// FetchManifest fetches the manifest desc from ref's repository (ref's tag
// or digest is ignored), verified against desc's digest and size. A desc
// larger than limit is refused with ErrTooLarge before anything is read.
func (c *Client) FetchManifest(ctx context.Context, ref string, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	return c.fetch(ctx, ref, desc, limit, false)
}

// FetchBlob is FetchManifest for a blob.
func (c *Client) FetchBlob(ctx context.Context, ref string, desc ocispec.Descriptor, limit int64) ([]byte, error) {
	return c.fetch(ctx, ref, desc, limit, true)
}

func (c *Client) fetch(ctx context.Context, ref string, desc ocispec.Descriptor, limit int64, blob bool) ([]byte, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	repo := c.repository(r, false)
	t := targetOf(r)
	t.tag, t.digest, t.blob = "", desc.Digest.String(), blob
	if desc.Size > limit || desc.Size < 0 {
		what := "manifest"
		if blob {
			what = "blob"
		}
		return nil, &Error{Kind: ErrTooLarge, Registry: r.Registry,
			Summary: fmt.Sprintf("%s %s is %d bytes, more than the %d accepted", what, t.repoName()+"@"+t.digest, desc.Size, limit)}
	}
	var data []byte
	if blob {
		data, err = content.FetchAll(ctx, repo.Blobs(), desc)
	} else {
		data, err = content.FetchAll(ctx, repo.Manifests(), desc)
	}
	if err != nil {
		return nil, classify(err, t)
	}
	return data, nil
}

// PushBlob pushes data as a blob of mediaType to ref's repository (ref's
// tag or digest is ignored), unless the registry has it already, and
// returns its descriptor.
func (c *Client) PushBlob(ctx context.Context, ref, mediaType string, data []byte) (ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	repo := c.repository(r, false)
	desc := content.NewDescriptorFromBytes(mediaType, data)
	t := targetOf(r)
	t.tag, t.digest, t.blob = "", desc.Digest.String(), true
	if ok, err := repo.Blobs().Exists(ctx, desc); err != nil {
		return ocispec.Descriptor{}, classify(err, t)
	} else if ok {
		return desc, nil
	}
	if err := repo.Blobs().Push(ctx, desc, bytes.NewReader(data)); err != nil {
		return ocispec.Descriptor{}, classify(err, t)
	}
	return desc, nil
}

// PushManifest pushes data as a manifest of mediaType to ref's repository
// under tag, and returns its descriptor. The blobs it names must be pushed
// first.
func (c *Client) PushManifest(ctx context.Context, ref, tag, mediaType string, data []byte) (ocispec.Descriptor, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	if !ValidTag(tag) {
		return ocispec.Descriptor{}, &Error{Kind: ErrInvalidReference, Summary: fmt.Sprintf("%q is not a valid tag", tag)}
	}
	repo := c.repository(r, false)
	desc := content.NewDescriptorFromBytes(mediaType, data)
	t := targetOf(r)
	t.tag, t.digest = tag, ""
	if err := repo.Manifests().PushReference(ctx, desc, bytes.NewReader(data), tag); err != nil {
		return ocispec.Descriptor{}, classify(err, t)
	}
	return desc, nil
}
