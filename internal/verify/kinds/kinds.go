// Package kinds decides which signature kinds an image must carry: Notary
// Project signatures, cosign signatures, any of them, all of them, or each
// kind it carries, chosen
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
	// Each: every kind the image carries must pass, and it must carry at
	// least one, as Ratify's config policy judges each artifact type it
	// finds. A kind the repository has no policy for (no trust policy
	// statement or cosign policy covers it, or its statement has level
	// skip) is not judged, as Ratify does not judge an artifact type it
	// has no verifier for: it neither counts as found nor fails the image.
	Each Requirement = "each"
)

// Valid reports whether r is one of the five requirements.
func (r Requirement) Valid() bool {
	switch r {
	case Notation, Cosign, Any, All, Each:
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
			problems = append(problems, fmt.Sprintf("%s: %q is not notation, cosign, any, all or each", where, r))
		case notation == nil && (r == Notation || r == All):
			problems = append(problems, fmt.Sprintf("%s: %s needs Notary Project verification, which is not configured", where, r))
		case cosign == nil && (r == Cosign || r == All):
			problems = append(problems, fmt.Sprintf("%s: %s needs cosign verification, which is not configured", where, r))
		case notation == nil && cosign == nil:
			problems = append(problems, fmt.Sprintf("%s: %s needs a signature kind, and none is configured", where, r))
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
	}
	// Both kinds may look: they read the image's referrers once.
	ctx = oci.WithSharedListings(ctx)
	switch req {
	case All:
		return all(ctx, ref, subject, c.notation, c.cosign)
	case Each:
		return each(ctx, ref, subject, c.notation, c.cosign)
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

// notJudged reports whether r says its kind is not there to judge: no
// signature of the kind, no policy of the kind for the repository, or a
// level skip that looked at nothing. A transient result is never one: it
// does not know what the image carries.
func notJudged(r verify.Result) bool {
	if r.Transient {
		return false
	}
	switch r.Code {
	case verify.CodeNoSignature, verify.CodeNoApplicablePolicy, verify.CodeSkipped:
		return true
	}
	return false
}

// each passes when at least one kind is found and every kind found passes,
// for the same digest. A kind that fails for good decides at once; a
// transient failure of any kind makes the whole verdict transient, so that
// it is not kept.
func each(ctx context.Context, ref string, subject *ocispec.Descriptor, notation, cosign Verifier) verify.Result {
	start := time.Now()
	type verdict struct {
		kind string
		res  verify.Result
	}
	var found, absent, failed []verdict
	transient := false
	for _, k := range []struct {
		kind string
		v    Verifier
	}{{"Notary Project", notation}, {"cosign", cosign}} {
		if k.v == nil {
			continue
		}
		r := verifyWith(ctx, k.v, ref, subject)
		switch {
		case notJudged(r):
			absent = append(absent, verdict{k.kind, r})
			continue
		case !r.Verified:
			failed = append(failed, verdict{k.kind, r})
			transient = transient || r.Transient
		}
		found = append(found, verdict{k.kind, r})
		if !r.Verified && !r.Transient {
			// Denied whatever the other kind says.
			break
		}
	}
	var rs []verify.Result
	for _, v := range append(append([]verdict(nil), found...), absent...) {
		rs = append(rs, v.res)
	}
	if len(rs) == 0 {
		// New refuses this; a verdict must still never pass.
		return verify.Failed(verify.Result{Reference: ref}, verify.CodeError, "no signature kind is configured", "configure Notary Project or cosign verification", false, nil)
	}
	out := rs[0]
	if len(rs) > 1 {
		out = merged(ref, rs[0], rs[1])
	}
	out.Reference = ref
	out.Duration = time.Since(start)
	out.Verified = false
	if len(failed) > 0 {
		f := failed[0].res
		var why []string
		for _, v := range failed {
			why = append(why, v.kind+": "+v.res.Reason)
		}
		reason := "every signature kind the image carries must verify (signatureKinds each): " + strings.Join(why, "; ")
		return verify.Failed(out, f.Code, reason, f.Remediation, transient, f.Err())
	}
	if len(found) == 0 {
		decide := absent[0].res
		var why []string
		for _, v := range absent {
			why = append(why, v.kind+": "+v.res.Reason)
			if v.res.Code == verify.CodeNoSignature && decide.Code != verify.CodeNoSignature {
				decide = v.res
			}
		}
		code := decide.Code
		if code == verify.CodeSkipped {
			code = verify.CodeNoSignature
		}
		reason := "no signature of a kind verified here (signatureKinds each needs at least one): " + strings.Join(why, "; ")
		return verify.Failed(out, code, reason, decide.Remediation, false, nil)
	}
	if len(found) == 2 && found[0].res.Digest != found[1].res.Digest {
		return verify.Failed(out, verify.CodeRegistryError,
			fmt.Sprintf("the tag of %s moved during verification (%s, then %s); retry", ref, found[0].res.Digest, found[1].res.Digest), "retry", true, nil)
	}
	var why []string
	for _, v := range found {
		why = append(why, v.res.Reason)
	}
	out.Verified, out.Code = true, verify.CodeVerified
	out.Digest, out.Tag = found[0].res.Digest, found[0].res.Tag
	out.Reason = strings.Join(why, "; and ")
	return out
}
