package verify

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// SubjectVerifier is a verifier that can be handed the descriptor of the
// image's manifest (digest, media type, size) that the registry already
// gave for ref, so that it does not ask again: the result cache resolves a
// tag to key its entry, and with signature kinds "any" or "all" two
// verifiers look at one image. Engine, cosign.Verifier and kinds.Combined
// implement it.
//
// subject nil: Verify. subject with a Digest: the registry's answer for ref,
// not read again; a digest reference must name that digest, or the result
// is a failure. subject without a Digest: the verifier reads the manifest
// as Verify does and fills in *subject with what the registry answered, for
// the next verifier of the same image (left empty if it read nothing).
//
// The descriptor replaces a request, never a check: the signatures must
// still cover its digest, size and media type, so a wrong descriptor can
// only fail a verification.
type SubjectVerifier interface {
	VerifySubject(ctx context.Context, ref string, subject *ocispec.Descriptor) Result
}

var _ SubjectVerifier = (*Engine)(nil)
