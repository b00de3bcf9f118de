package admission

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hallmark-dev/hallmark/internal/admission/imagepattern"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/registryname"
)

// Mode says what happens to an object whose images are not all verified.
type Mode string

const (
	// ModeDeny refuses the object. It is the default, and any value other
	// than ModeAudit behaves as ModeDeny, so a typo never opens the door.
	ModeDeny Mode = "deny"
	// ModeAudit lets the object in and reports each unverified image in
	// warnings, audit annotations and logs.
	ModeAudit Mode = "audit"
)

// DefaultDeadline is the verification budget of one request when
// Policy.Deadline is zero. Gatekeeper's validating webhook gives up after
// 3 s by default, the tightest budget hallmark is called under; 2.5 s leaves
// room for the rest of the round trip. The webhook shortens it further when
// the API server's own timeout is shorter.
const DefaultDeadline = 2500 * time.Millisecond

// defaultExcludeNamespaces is what Policy.ExcludeNamespaces means when nil:
// kube-system runs the control plane and the CNI; a registry outage must not
// stop it from healing itself.
var defaultExcludeNamespaces = []string{"kube-system"}

// Policy is what admission enforces. The zero value denies every unverified
// image in every namespace except kube-system, within DefaultDeadline.
type Policy struct {
	// Mode applies to namespaces without an entry in NamespaceModes. Zero
	// means ModeDeny.
	Mode Mode
	// NamespaceModes overrides Mode for the named namespaces (exact names).
	// Nil means no overrides.
	NamespaceModes map[string]Mode
	// IncludeNamespaces, when not empty, limits admission to the named
	// namespaces (exact names): objects elsewhere are allowed unverified.
	// Empty means every namespace.
	IncludeNamespaces []string
	// ExcludeNamespaces lists namespaces (exact names) whose objects are
	// allowed unverified; it wins over IncludeNamespaces. Nil means
	// ["kube-system"]; an empty, non-nil slice excludes nothing.
	ExcludeNamespaces []string
	// ExemptImages lists patterns of image references that are allowed
	// without verification, matched against the reference exactly as the
	// object writes it (see MatchImage). Nil means none.
	ExemptImages []string
	// Deadline is the verification budget of one request: an image not
	// verified by then is a failure. Zero means DefaultDeadline.
	Deadline time.Duration
	// PinDigestOnly makes Mutate write REPO@DIGEST instead of the default
	// REPO:TAG@DIGEST, which keeps the tag readable for people while the
	// kubelet pulls by digest.
	PinDigestOnly bool
	// TrustNamespacePrefixFromAnyCaller makes the Gatekeeper provider take
	// a key's "[namespace]" prefix from any caller. By default it is taken
	// only from a caller authenticated by a client certificate under mutual
	// TLS (Gatekeeper), because the namespace selects exclusions and a pod
	// author can write the prefix into an image field. Set it only when
	// nothing but Gatekeeper can reach the provider endpoints.
	TrustNamespacePrefixFromAnyCaller bool
	// AllowUnpinnedTags lets deny mode admit an image named by a tag alone
	// (no digest) when the tag verifies. By default deny mode refuses it:
	// the kubelet pulls the tag later, and a registry that answers it
	// differently, or anyone who can push the tag, then runs content that
	// was never verified. Mutation pins verified tags, so with the mutating
	// webhook (or Gatekeeper's mutation) in place the default costs
	// nothing; set this only when neither runs and the risk is accepted.
	AllowUnpinnedTags bool
}

// WithDefaults returns p with every zero field that has a default set to
// it. It is the one place defaults are applied; New calls it.
func (p Policy) WithDefaults() Policy {
	if p.Mode == "" {
		p.Mode = ModeDeny
	}
	if p.ExcludeNamespaces == nil {
		p.ExcludeNamespaces = slices.Clone(defaultExcludeNamespaces)
	}
	if p.Deadline == 0 {
		p.Deadline = DefaultDeadline
	}
	return p
}

// Validate reports every problem with p at once; each matches
// ErrInvalidPolicy. The zero Policy is valid. New accepts an invalid Policy
// but then fails closed: an unknown mode denies, and an exemption pattern
// that does not parse exempts nothing.
func (p Policy) Validate() error {
	var errs []error
	problem := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidPolicy, fmt.Sprintf(format, args...)))
	}
	if !validMode(p.Mode, true) {
		problem("mode %q: want %q or %q", p.Mode, ModeDeny, ModeAudit)
	}
	for _, ns := range sortedKeys(p.NamespaceModes) {
		if ns == "" {
			problem("namespaceModes: empty namespace name")
		}
		if m := p.NamespaceModes[ns]; !validMode(m, false) {
			problem("namespaceModes[%s]: mode %q: want %q or %q", ns, m, ModeDeny, ModeAudit)
		}
	}
	for i, ns := range p.IncludeNamespaces {
		if ns == "" {
			problem("includeNamespaces[%d]: empty namespace name", i)
		}
	}
	for i, ns := range p.ExcludeNamespaces {
		if ns == "" {
			problem("excludeNamespaces[%d]: empty namespace name", i)
		}
	}
	for i, pattern := range p.ExemptImages {
		if err := checkPattern(pattern); err != nil {
			problem("exemptImages[%d]: %v", i, err)
		}
	}
	if p.Deadline < 0 {
		problem("deadline %v is negative", p.Deadline)
	}
	return errors.Join(errs...)
}

func validMode(m Mode, allowEmpty bool) bool {
	return m == ModeDeny || m == ModeAudit || (allowEmpty && m == "")
}

// ModeFor returns the mode that applies in namespace ns. Anything but an
// explicit ModeAudit is ModeDeny.
func (p Policy) ModeFor(ns string) Mode {
	m, ok := p.NamespaceModes[ns]
	if !ok {
		m = p.Mode
	}
	if m == ModeAudit {
		return ModeAudit
	}
	return ModeDeny
}

// skipNamespace reports why objects in ns are not verified, or "" when they
// are. No namespace ("", a Gatekeeper key without Ratify's "[namespace]"
// prefix) is never skipped: the namespace rules cannot say it is outside
// them, and an image must not pass unverified for lack of one.
func (p Policy) skipNamespace(ns string) string {
	if ns == "" {
		return ""
	}
	if slices.Contains(p.ExcludeNamespaces, ns) {
		return fmt.Sprintf("namespace %s is excluded", ns)
	}
	if len(p.IncludeNamespaces) > 0 && !slices.Contains(p.IncludeNamespaces, ns) {
		return fmt.Sprintf("namespace %s is not included", ns)
	}
	return ""
}

// skip reports why image, named in namespace ns, is left alone by the
// policy: its namespace is excluded or not included, or it matches an
// exemption. "" means it is to be checked.
func (p Policy) skip(ns, image string) string {
	if why := p.skipNamespace(ns); why != "" {
		return why
	}
	if len(p.ExemptImages) == 0 {
		// Most configurations exempt nothing: no parse for every image.
		return ""
	}
	// The canonical spelling too, so that an exemption written for
	// docker.io/library/nginx also covers index.docker.io/nginx, as the
	// container runtime pulls both from one repository.
	canonical := image
	if ref, err := oci.ParseReference(image); err == nil {
		canonical = registryname.CanonicalString(ref)
	}
	for _, pattern := range p.ExemptImages {
		if MatchImage(pattern, image) || MatchImage(pattern, canonical) {
			return "matches exemption " + pattern
		}
	}
	return ""
}

// MatchImage reports whether the image reference matches pattern. Patterns
// use path.Match syntax on the whole reference, as written in the object
// (REGISTRY/REPOSITORY[:TAG][@DIGEST], no defaults added):
//
//   - '*' matches any run of characters except '/', so it spans a tag or
//     digest ("registry.k8s.io/pause*" matches "registry.k8s.io/pause:3.9"
//     and "registry.k8s.io/pause@sha256:...") but not a path element;
//   - '?' matches one character except '/'; '[...]' matches a class;
//   - a pattern ending in "/**" matches every reference below its prefix,
//     at any depth ("registry.k8s.io/**" matches
//     "registry.k8s.io/coredns/coredns:v1.11.1"); '**' is allowed nowhere
//     else.
//
// A malformed pattern matches nothing: an exemption that cannot be read
// must not exempt.
func MatchImage(pattern, image string) bool { return imagepattern.Match(pattern, image) }

// checkPattern reports why pattern is not a valid exemption pattern.
func checkPattern(pattern string) error { return imagepattern.Check(pattern) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
