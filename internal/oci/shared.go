package oci

import (
	"context"
	"errors"
	"sync"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
)

// When one image is verified for more than one signature kind (Notary
// Project and cosign, signatureKinds any, all or each), both verifiers list
// its referrers: the Notary Project engine those of its signature artifact
// type, the cosign verifier all of them, for Sigstore bundles. Under
// WithSharedListings the two read one listing, unfiltered, and each keeps
// what it asks for: a registry request less per image that the first kind
// does not settle. Against a registry without the referrers API it is the
// same request twice (the referrers tag index), and Docker Hub counts a
// manifest read against its pull limits.

// sharedListings is the listings made under one WithSharedListings
// context, by image.
type sharedListings struct {
	mu sync.Mutex
	m  map[string]*sharedListing
}

// sharedListing is one image's unfiltered referrers, listed once.
type sharedListing struct {
	done  chan struct{} // closed once descs, tooMany and err are set
	descs []ocispec.Descriptor
	// tooMany: more referrers than maxListedSignatures; each caller then
	// lists on its own, with the registry's filter, as without sharing.
	tooMany bool
	err     error
}

type sharedListingsKey struct{}

// WithSharedListings returns a context under which this package's clients
// list each image's referrers once, for every caller that lists them with
// that context. It is for one verification of one image by several
// verifiers, run one after the other or together; a listing is never
// shared beyond the context, so a later verification sees the registry
// anew.
func WithSharedListings(ctx context.Context) context.Context {
	return context.WithValue(ctx, sharedListingsKey{}, &sharedListings{})
}

// errTooManyShared ends a shared listing past maxListedSignatures.
var errTooManyShared = errors.New("too many referrers to share")

// sharedReferrers returns subject's referrers in repo (of registry host),
// unfiltered, from the listing shared under ctx, making it if it is the
// first. ok is false without WithSharedListings, or when the image has too
// many referrers to share: the caller then lists on its own.
func (c *Client) sharedReferrers(ctx context.Context, host string, repo *remote.Repository, subject ocispec.Descriptor) (descs []ocispec.Descriptor, ok bool, err error) {
	s, _ := ctx.Value(sharedListingsKey{}).(*sharedListings)
	if s == nil {
		return nil, false, nil
	}
	key := host + "/" + repo.Reference.Repository + "@" + subject.Digest.String()
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]*sharedListing{}
	}
	l, listed := s.m[key]
	if !listed {
		l = &sharedListing{done: make(chan struct{})}
		s.m[key] = l
	}
	s.mu.Unlock()
	if !listed {
		l.err = c.referrers(ctx, host, repo, subject, "", func(page []ocispec.Descriptor) error {
			if len(l.descs)+len(page) > maxListedSignatures {
				return errTooManyShared
			}
			l.descs = append(l.descs, page...)
			return nil
		})
		if errors.Is(l.err, errTooManyShared) {
			l.descs, l.tooMany, l.err = nil, true, nil
		}
		close(l.done)
	} else {
		select {
		case <-l.done:
		case <-ctx.Done():
			return nil, true, ctx.Err()
		}
	}
	if l.tooMany {
		return nil, false, nil
	}
	return l.descs, true, l.err
}

// ofArtifactType keeps the descriptors of artifactType, all for "": the
// filter a registry applies to a referrers listing, applied here to a
// shared one.
func ofArtifactType(descs []ocispec.Descriptor, artifactType string) []ocispec.Descriptor {
	if artifactType == "" {
		return descs
	}
	var out []ocispec.Descriptor
	for _, d := range descs {
		if d.ArtifactType == artifactType {
			out = append(out, d)
		}
	}
	return out
}
