// Package kinds decides which signature kinds an image must carry: Notary
// Project signatures, cosign signatures, any of them or all of them, chosen
// per registry scope. It combines the verdicts of one verifier per kind
// into one verify.Result, so that the cache, admission, metrics and both
// admission encodings treat a cosign verdict like any other.
package kinds

import (
	"context"
	"fmt"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Requirement is which signature kinds an image must carry.
type Requirement string

// Requirements.
const (
	// Notation: a Notary Project signature that passes the trust policy.
	Notation Requirement = "notation"
	// Cosign: a cosign signature that passes the cosign policy.
	Cosign Requirement = "cosign"
	// Any: either of them.
	Any Requirement = "any"
	// All: both of them.
	All Requirement = "all"
)

// Valid reports whether r is one of the four requirements.
func (r Requirement) Valid() bool {
	switch r {
	case Notation, Cosign, Any, All:
		return true
	}
	return false
}

// Rule requires Require of the images in Scopes: registry/repository as in
// a trust policy's registryScopes, or "*" for every repository no rule
// names.
type Rule struct {
	Scopes  []string
	Require Requirement
}

// Verifier is one signature kind's verifier: verify.Engine or
// cosign.Verifier.
type Verifier interface {
	Verify(ctx context.Context, ref string) verify.Result
}

// Combined verifies each image for the kinds its scope requires.
type Combined struct {
	notation Verifier
	cosign   Verifier
	rules    []Rule
	fallback Requirement
}

// New combines notation and cosign (either may be nil when that kind is not
// configured) under rules. A repository no rule covers requires fallback.
// Every requirement must be valid and name only configured kinds; a scope
// may be in one rule only.
func New(notation, cosign Verifier, rules []Rule, fallback Requirement) (*Combined, error) {
	var problems []string
	seen := map[string]bool{}
	check := func(where string, r Requirement) {
		switch {
		case !r.Valid():
			problems = append(problems, fmt.Sprintf("%s: %q is not notation, cosign, any or all", where, r))
		case notation == nil && (r == Notation || r == All):
			problems = append(problems, fmt.Sprintf("%s: %s needs Notary Project verification, which is not configured", where, r))
		case cosign == nil && (r == Cosign || r == All):
			problems = append(problems, fmt.Sprintf("%s: %s needs cosign verification, which is not configured", where, r))
		}
	}
	check("default", fallback)
	for i, r := range rules {
		check(fmt.Sprintf("rule %d", i), r.Require)
		if len(r.Scopes) == 0 {
			problems = append(problems, fmt.Sprintf("rule %d has no scopes", i))
		}
		for _, s := range r.Scopes {
			if seen[s] {
				problems = append(problems, fmt.Sprintf("scope %q is in more than one rule", s))
			}
			seen[s] = true
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("signature kinds: %s", strings.Join(problems, "; "))
	}
	return &Combined{notation: notation, cosign: cosign, rules: rules, fallback: fallback}, nil
}

// RequirementFor returns what the repository registry/repository requires.
func (c *Combined) RequirementFor(repoPath string) Requirement {
	star := Requirement("")
	for _, r := range c.rules {
		for _, s := range r.Scopes {
			if s == repoPath {
				return r.Require
			}
			if s == "*" {
				star = r.Require
			}
		}
	}
	if star != "" {
		return star
	}
	return c.fallback
}

// Verify verifies ref for the kinds its repository requires. Like the
// verifiers it combines, it never fails: every problem is a Result that is
// not Verified and says why.
func (c *Combined) Verify(ctx context.Context, ref string) verify.Result {
	return c.VerifySubject(ctx, ref, nil)
}

// VerifySubject is Verify for a caller that may already hold the image's
// manifest descriptor (see verify.SubjectVerifier). Either way the
// manifest is read at most once for both kinds: the descriptor the first
// verifier read is handed to the second, so a tag is resolved once and both
// verdicts are about the same digest.
func (c *Combined) VerifySubject(ctx context.Context, ref string, subject *ocispec.Descriptor) verify.Result {
	if subject == nil {
		subject = new(ocispec.Descriptor)
	}
	req := c.fallback
	if r, err := oci.ParseReference(ref); err == nil {
		req = c.RequirementFor(r.Registry + "/" + r.Repository)
	}
	switch req {
	case Notation:
		return verifyWith(ctx, c.notation, ref, subject)
	case Cosign:
		return verifyWith(ctx, c.cosign, ref, subject)
	case All:
		return all(ctx, ref, subject, c.notation, c.cosign)
	default:
		return anyOf(ctx, ref, subject, c.notation, c.cosign)
	}
}

var _ verify.SubjectVerifier = (*Combined)(nil)

// verifyWith hands v the subject if it takes one.
func verifyWith(ctx context.Context, v Verifier, ref string, subject *ocispec.Descriptor) verify.Result {
	if sv, ok := v.(verify.SubjectVerifier); ok {
		return sv.VerifySubject(ctx, ref, subject)
	}
	return v.Verify(ctx, ref)
}

// anyOf passes with the first configured kind that passes.
func anyOf(ctx context.Context, ref string, subject *ocispec.Descriptor, notation, cosign Verifier) verify.Result {
	start := time.Now()
	var results []verify.Result
	for _, v := range []Verifier{notation, cosign} {
		if v == nil {
			continue
		}
		r := verifyWith(ctx, v, ref, subject)
		if r.Verified {
			r.Duration = time.Since(start)
			return r
		}
		results = append(results, r)
	}
	if len(results) == 1 {
		return results[0]
	}
	n, s := results[0], results[1]
	out := merged(ref, n, s)
	// The more telling failure decides the code: one that found a
	// signature says more than "no signature".
	decide := n
	if n.Code == verify.CodeNoSignature || n.Code == verify.CodeNoApplicablePolicy {
		decide = s
	}
	reason := fmt.Sprintf("no accepted signature of any kind: Notary Project: %s; cosign: %s", n.Reason, s.Reason)
	rem := decide.Remediation
	out = verify.Failed(out, decide.Code, reason, rem, n.Transient || s.Transient, decide.Err())
	out.Duration = time.Since(start)
	return out
}

// all passes when both kinds pass for the same digest.
func all(ctx context.Context, ref string, subject *ocispec.Descriptor, notation, cosign Verifier) verify.Result {
	start := time.Now()
	n := verifyWith(ctx, notation, ref, subject)
	if !n.Verified {
		n.Reason = "Notary Project signature required: " + n.Reason
		return n
	}
	s := verifyWith(ctx, cosign, ref, subject)
	out := merged(ref, n, s)
	out.Duration = time.Since(start)
	switch {
	case !s.Verified:
		return verify.Failed(out, s.Code, "cosign signature required: "+s.Reason, s.Remediation, s.Transient, s.Err())
	case n.Digest != s.Digest:
		return verify.Failed(out, verify.CodeRegistryError,
			fmt.Sprintf("the tag of %s moved during verification (%s, then %s); retry", ref, n.Digest, s.Digest), "retry", true, nil)
	}
	out.Verified, out.Code = true, verify.CodeVerified
	out.Reason = n.Reason + "; and " + s.Reason
	return out
}

func merged(ref string, n, s verify.Result) verify.Result {
	out := verify.Result{Reference: ref, Digest: n.Digest, Tag: n.Tag, Level: n.Level, Policy: n.Policy}
	if out.Digest == "" {
		out.Digest, out.Tag = s.Digest, s.Tag
	}
	out.Warnings = append(append([]string(nil), n.Warnings...), s.Warnings...)
	out.Signatures = append(append([]verify.SignatureResult(nil), n.Signatures...), s.Signatures...)
	return out
}
