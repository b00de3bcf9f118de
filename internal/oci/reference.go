package oci

import (
	"fmt"
	"regexp"
	"strings"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
)

// maxReferenceLength caps a reference before it is parsed. References come
// from pod specs and command lines; real ones stay far below 1 KiB (common
// registries cap repository names at 255 characters), so 4 KiB refuses only
// input that no registry would accept anyway.
const maxReferenceLength = 4096

// tagPattern is the distribution spec's tag grammar. oras-go drops a tag that
// comes with a digest without checking it; hallmark checks it so that a typo
// in "app:v1@sha256:..." is reported rather than ignored.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

// exampleReference is shown in error messages as the shape to follow.
const exampleReference = "myregistry.azurecr.io/app:v1"

// ParseReference parses an image reference of the form
// REGISTRY/REPOSITORY[:TAG][@DIGEST].
//
// Unlike docker, hallmark does not expand short names: "nginx" or
// "library/nginx" are refused with ErrNoRegistry instead of being read as
// docker.io/library/nginx, so that an image is always looked up, and its
// signature verified, where the writer meant. The first path component is
// taken as a registry when it contains a "." or a ":", or is "localhost".
//
// The tag and digest are optional here; Resolve and ListSignatures require
// one of them. With both, the digest wins and the tag is only checked.
// Every error matches ErrInvalidReference.
func ParseReference(s string) (registry.Reference, error) {
	invalid := func(format string, args ...any) error {
		return &Error{Kind: ErrInvalidReference, Summary: fmt.Sprintf(format, args...)}
	}
	switch {
	case s == "":
		return registry.Reference{}, invalid("empty image reference: write it in full, e.g. %s", exampleReference)
	case len(s) > maxReferenceLength:
		return registry.Reference{}, invalid("image reference of %d bytes is longer than the %d allowed", len(s), maxReferenceLength)
	case strings.Contains(s, "://"):
		return registry.Reference{}, invalid("image reference %q has a URL scheme: write it without one, e.g. %s", s, exampleReference)
	case strings.ContainsFunc(s, isSpaceOrControl):
		return registry.Reference{}, invalid("image reference %q contains spaces or control characters", s)
	}

	first, rest, found := strings.Cut(s, "/")
	if !found || !looksLikeHost(first) {
		return registry.Reference{}, &Error{
			Kind:    ErrNoRegistry,
			Summary: fmt.Sprintf("reference %q has no registry: write it in full, e.g. %s", s, exampleReference),
		}
	}

	ref, err := registry.ParseReference(s)
	if err != nil {
		reason := strings.TrimPrefix(err.Error(), errdef.ErrInvalidReference.Error()+": ")
		return registry.Reference{}, invalid("image reference %q is not valid: %s", s, reason)
	}

	// A tag written next to a digest is dropped by oras-go unchecked.
	if name, _, hasDigest := strings.Cut(rest, "@"); hasDigest {
		if i := strings.LastIndex(name, ":"); i >= 0 && !tagPattern.MatchString(name[i+1:]) {
			return registry.Reference{}, invalid("image reference %q is not valid: invalid tag %q", s, name[i+1:])
		}
	}
	return ref, nil
}

// looksLikeHost applies docker's rule for telling a registry host from the
// first component of a repository path: repository components are lowercase
// and have no dots or colons.
func looksLikeHost(s string) bool {
	return s == "localhost" ||
		strings.ContainsAny(s, ".:") ||
		strings.ToLower(s) != s
}

func isSpaceOrControl(r rune) bool {
	return r <= ' ' || r == 0x7f
}

// targetOf describes ref for error messages.
func targetOf(ref registry.Reference) target {
	t := target{registry: ref.Registry, repository: ref.Repository}
	if ref.ValidateReferenceAsDigest() == nil {
		t.digest = ref.Reference
	} else {
		t.tag = ref.Reference
	}
	return t
}
