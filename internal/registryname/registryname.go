// Package registryname puts registry hosts and repository names in the one
// canonical form hallmark judges them by (trust-policy scopes, cache keys,
// exemptions, registry settings, metrics). It is a leaf: the configuration
// checks scopes with it without linking the registry client.
package registryname

import (
	"net/netip"
	"strconv"
	"strings"

	"oras.land/oras-go/v2/registry"
)

// DockerHub is the canonical name of Docker Hub's registry: the one docker
// and the container runtimes write, and the one oras-go maps to Docker Hub's
// API host.
const DockerHub = "docker.io"

// dockerHubAliases are the other names of Docker Hub's registry: its index,
// its API host, and the key docker uses for its credentials.
var dockerHubAliases = map[string]bool{
	"index.docker.io":             true,
	"registry-1.docker.io":        true,
	"https://index.docker.io/v1/": true,
}

// CanonicalHost returns the canonical form of a registry host, the one
// hallmark uses for every decision about it (trust-policy scopes, the cache,
// exemptions, registry settings, metrics), so that two spellings the
// container runtime pulls from alike are judged alike:
//
//   - letters are lowercased, and a trailing dot (a fully qualified DNS
//     name) is dropped;
//   - the port is written as a plain number, and dropped when it is empty
//     or 443, HTTPS's default, which registries are reached over unless
//     configured otherwise. Port 80 is kept: it is the default only for
//     plain HTTP, which the name does not say (see Client for how a plain
//     HTTP registry's ":80" is treated);
//   - an IPv6 address is written in its shortest form;
//   - Docker Hub's other names (index.docker.io, registry-1.docker.io) are
//     written docker.io.
//
// CanonicalHost(CanonicalHost(h)) == CanonicalHost(h) for every h.
func CanonicalHost(h string) string {
	// One pass is enough for any real host; malformed ones (":::") may
	// need more to reach the fixed point that keys rely on.
	for {
		c := canonicalHostOnce(h)
		if c == h {
			return c
		}
		h = c
	}
}

func canonicalHostOnce(h string) string {
	if dockerHubAliases[h] {
		return DockerHub
	}
	h = lowerASCII(h) // no copy when already lower case
	name, port := SplitHostPort(h)
	canonicalName := strings.TrimRight(name, ".")
	if strings.HasPrefix(canonicalName, "[") && strings.HasSuffix(canonicalName, "]") {
		if a, err := netip.ParseAddr(canonicalName[1 : len(canonicalName)-1]); err == nil && a.Zone() == "" {
			if s := "[" + a.String() + "]"; s != canonicalName {
				canonicalName = s
			}
		}
	}
	canonicalPort := port
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err == nil && (port[0] == '0' || n == 443) {
			canonicalPort = strconv.FormatUint(n, 10)
		}
	}
	if canonicalPort == "443" {
		canonicalPort = ""
	}
	if dockerHubAliases[canonicalName] || (canonicalName == DockerHub && canonicalPort == "") {
		return DockerHub
	}
	if canonicalName == name && canonicalPort == port && (port != "" || !strings.HasSuffix(h, ":")) {
		// Already canonical: the common case, without building a string.
		return h
	}
	if canonicalPort == "" {
		return canonicalName
	}
	return canonicalName + ":" + canonicalPort
}

// SplitHostPort splits "name:port" and "[v6]:port"; port is "" when there
// is none, or when it is empty after the colon.
func SplitHostPort(h string) (name, port string) {
	if strings.HasPrefix(h, "[") {
		if end := strings.IndexByte(h, ']'); end >= 0 {
			if rest, ok := strings.CutPrefix(h[end+1:], ":"); ok {
				return h[:end+1], rest
			}
			return h[:end+1], ""
		}
		return h, ""
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i], h[i+1:]
	}
	return h, ""
}

// ValidHost reports whether h is a registry host as the distribution
// reference grammar writes one, with an optional port of at most five
// digits: a DNS name or IPv4 address (dot-separated labels of 1 to 63
// letters, digits and inner hyphens, 253 bytes in all), or an IPv6 address
// in brackets. A name such as ".", "a..b" or "-a.b" is not one: the
// container runtime refuses to pull from it.
func ValidHost(h string) bool {
	name, port, hasPort := h, "", false
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return false
		}
		if rest := h[end+1:]; rest != "" {
			if port, hasPort = strings.CutPrefix(rest, ":"); !hasPort {
				return false
			}
		}
		name = h[:end+1]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port, hasPort = h[:i], h[i+1:], true
	}
	if hasPort && (port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "") {
		return false
	}
	if v6, ok := strings.CutPrefix(name, "["); ok {
		a, err := netip.ParseAddr(strings.TrimSuffix(v6, "]"))
		return err == nil && a.Is6() && a.Zone() == ""
	}
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// Canonicalize puts ref's registry in canonical form, and gives a
// one-component Docker Hub repository the "library/" that the container
// runtime implies ("docker.io/nginx" is "docker.io/library/nginx").
func Canonicalize(ref registry.Reference) registry.Reference {
	ref.Registry = CanonicalHost(ref.Registry)
	if ref.Registry == DockerHub && !strings.Contains(ref.Repository, "/") {
		ref.Repository = "library/" + ref.Repository
	}
	return ref
}

// CanonicalRepository returns REGISTRY/REPOSITORY in canonical form (see
// CanonicalHost) for a repository name such as a trust-policy scope, or
// ok false when name is not REGISTRY/REPOSITORY.
func CanonicalRepository(name string) (canonical string, ok bool) {
	ref, err := registry.ParseReference(name)
	if err != nil || ref.Reference != "" {
		return "", false
	}
	ref = Canonicalize(ref)
	return ref.Registry + "/" + ref.Repository, true
}

// CanonicalString returns ref written in canonical form: REGISTRY/REPOSITORY
// followed by ":TAG" or "@DIGEST" as ref has them.
func CanonicalString(ref registry.Reference) string {
	ref = Canonicalize(ref)
	s := ref.Registry + "/" + ref.Repository
	switch {
	case ref.Reference == "":
	case IsDigest(ref.Reference):
		s += "@" + ref.Reference
	default:
		s += ":" + ref.Reference
	}
	return s
}

// IsDigest reports whether reference, the part of an image reference after
// its repository, is a digest: what registry.Reference's
// ValidateReferenceAsDigest accepts. A sha256 digest, what images carry, is
// recognised here without go-digest's regular expression, which costs more
// than the rest of a cached admission's work on the image; anything else is
// left to go-digest. FuzzIsDigest checks that the two agree.
func IsDigest(reference string) bool {
	if isSHA256Digest(reference) {
		return true
	}
	return (registry.Reference{Reference: reference}).ValidateReferenceAsDigest() == nil
}

// isSHA256Digest reports whether s is "sha256:" and 64 lowercase hex
// digits, the only spelling of a sha256 digest that go-digest accepts.
func isSHA256Digest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// lowerASCII lowercases ASCII letters only: strings.ToLower would turn each
// invalid UTF-8 byte into a three-byte U+FFFD, so a host could grow past
// the reference length cap after it was checked.
func lowerASCII(h string) string {
	for i := 0; i < len(h); i++ {
		if c := h[i]; 'A' <= c && c <= 'Z' {
			b := []byte(h)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return h
}
