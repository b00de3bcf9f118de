package oci

import (
	"fmt"
	"strings"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"

	"github.com/hallmark-dev/hallmark/internal/registryname"
)

// maxReferenceLength caps a reference before it is parsed. References come
// from pod specs and command lines; real ones stay far below 1 KiB (common
// registries cap repository names at 255 characters), so 4 KiB refuses only
// input that no registry would accept anyway.
const maxReferenceLength = 4096

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
// The registry is returned in canonical form (see CanonicalHost), and a
// one-component Docker Hub repository with the "library/" the container
// runtime implies: "LOCALHOST:5000/app", "registry.example.com:443/app" and
// "index.docker.io/nginx" come back as "localhost:5000/app",
// "registry.example.com/app" and "docker.io/library/nginx".
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

	// Most references are written plainly; they are accepted here without
	// regular expressions. Anything unusual takes the full parse below.
	if ref, ok := parsePlain(s); ok {
		return canonicalOrRefuse(s, ref, true)
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
		// oras-go drops a tag that comes with a digest without checking it;
		// hallmark checks it so that a typo in "app:v1@sha256:..." is
		// reported rather than ignored.
		if i := strings.Index(name, ":"); i >= 0 && !ValidTag(name[i+1:]) {
			return registry.Reference{}, invalid("image reference %q is not valid: invalid tag %q", s, name[i+1:])
		}
	}
	return canonicalOrRefuse(s, ref, false)
}

// canonicalOrRefuse returns ref in canonical form, or refuses a registry
// whose canonical form is no registry: one that only its upper-case letters
// or a trailing dot marked as one (in canonical form "A/app" is "a/app", a
// repository path), a malformed one that only its port kept valid, or one
// that is not a host name. hostChecked says parsePlain has checked the
// host, whose canonical form is then a host name too (FuzzValidHost).
func canonicalOrRefuse(s string, ref registry.Reference, hostChecked bool) (registry.Reference, error) {
	c := registryname.Canonicalize(ref)
	if !looksLikeHost(c.Registry) || (c.Registry != ref.Registry && c.ValidateRegistry() != nil) {
		return registry.Reference{}, &Error{
			Kind: ErrInvalidReference,
			Summary: fmt.Sprintf("reference %q names registry %q, which is a host only by its upper-case letters or final dot: write the host with its domain or port, e.g. %s",
				s, ref.Registry, exampleReference),
		}
	}
	if !hostChecked && !registryname.ValidHost(c.Registry) {
		return registry.Reference{}, &Error{
			Kind: ErrInvalidReference,
			Summary: fmt.Sprintf("reference %q names registry %q, which is not a host name (labels of letters, digits and inner hyphens, an optional port of up to 5 digits): write the registry's host, e.g. %s",
				s, ref.Registry, exampleReference),
		}
	}
	return c, nil
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

// targetOf is targetOf, knowing how this client reaches the registry.
func (c *Client) targetOf(ref registry.Reference) target {
	t := targetOf(ref)
	t.plainHTTP = c.plainHTTP(ref.Registry)
	return t
}

// parsePlain accepts, without regular expressions or URL parsing, the
// references most admission requests carry: a lowercase DNS host with an
// optional port, a repository in the distribution grammar, and a tag, a
// sha256 digest, or both. It returns ok false for anything else, including
// every invalid reference, which ParseReference then parses in full and
// explains. It never accepts what the full parse refuses, nor parses
// differently (FuzzParsePlain checks both).
func parsePlain(s string) (registry.Reference, bool) {
	host, path, found := strings.Cut(s, "/")
	if !found || !plainHost(host) {
		return registry.Reference{}, false
	}
	name, dgst, hasDigest := strings.Cut(path, "@")
	repo, tag, hasTag := strings.Cut(name, ":")
	if !plainRepository(repo) || (hasTag && !ValidTag(tag)) || (hasDigest && !plainDigest(dgst)) {
		return registry.Reference{}, false
	}
	ref := registry.Reference{Registry: host, Repository: repo}
	switch {
	case hasDigest:
		ref.Reference = dgst
	case hasTag:
		ref.Reference = tag
	}
	return ref, true
}

// plainHost reports whether h is a lowercase host name with an optional
// numeric port, that looksLikeHost takes for a registry and
// registryname.ValidHost for a host: labels of letters, digits and inner
// hyphens, checked in the one pass.
func plainHost(h string) bool {
	name, port, hasPort := strings.Cut(h, ":")
	if name == "" || len(name) > 253 || (hasPort && (port == "" || len(port) > 5)) {
		return false
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	label := 0 // bytes of the label so far
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			label++
		case c == '-' && label > 0:
			label++
		case c == '.' && label > 0 && name[i-1] != '-':
			label = 0
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	if label == 0 || name[len(name)-1] == '-' {
		return false
	}
	return hasPort || name == "localhost" || strings.Contains(name, ".")
}

// plainRepository is the distribution spec's repository grammar: components
// separated by "/", each lowercase alphanumeric runs joined by one ".", one
// "_", "__", or any number of "-".
func plainRepository(r string) bool {
	for comp := range strings.SplitSeq(r, "/") {
		if comp == "" || !isAlnum(comp[0]) || !isAlnum(comp[len(comp)-1]) {
			return false
		}
		for i := 1; i < len(comp); {
			if isAlnum(comp[i]) {
				i++
				continue
			}
			// A separator between two alphanumeric runs.
			j := i
			for j < len(comp) && !isAlnum(comp[j]) {
				j++
			}
			switch sep := comp[i:j]; {
			case sep == "." || sep == "_" || sep == "__":
			case strings.Trim(sep, "-") == "":
			default:
				return false
			}
			i = j
		}
	}
	return true
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// plainDigest reports whether d is a sha256 digest in canonical form.
func plainDigest(d string) bool {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidTag reports whether t is a tag in the distribution spec's grammar,
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}, without a regular expression
// (FuzzParsePlain compares it with that expression).
func ValidTag(t string) bool {
	if len(t) == 0 || len(t) > 128 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
		case (c == '.' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
