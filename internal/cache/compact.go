package cache

import (
	"time"
	"unique"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

// A cache sized for 100,000 images keeps 100,000 verdicts, and most of what
// a verdict says is the same for every image signed by one key under one
// trust policy statement: the level, the policy's name, the reason ("signature
// by CN=… verified under …"), the signer's subject, issuer, serial and
// thumbprint, the envelope format, the five validations. Kept as the
// verify.Result the engine returned, each entry would hold its own copy of
// all of it (about 1.9 KiB an entry). A verdict is therefore kept in two
// parts: what varies per image (the digests, the signing times), and
// handles to canonical copies of the rest, shared by every entry that says
// the same thing (unique.Handle: a canonical value lives while a handle to
// it does, so values no entry holds any more are freed).
//
// The compact form is lossless for every exported field: result rebuilds
// the Result that compact was given, except Reference and Duration, which
// the cache sets per answer anyway. A Result with something the compact
// form does not encode is kept whole instead (full), so nothing is ever
// approximated.

// maxCompactWarnings and maxCompactValidations bound the fixed arrays of
// the shared parts: a Result with more warnings, or a signature with more
// validations, is kept whole. The engine writes at most one warning per
// logged check and exactly five validations.
const (
	maxCompactWarnings    = 5
	maxCompactValidations = 5
)

// verdict is one cached Result.
type verdict struct {
	// head is the Result's fields that are the same for many images.
	head unique.Handle[head]
	// sigs are the Result's signatures; nil when it lists none.
	sigs []compactSig
	// full, if set, is the whole Result, kept instead of the compact form
	// because that form cannot hold it exactly.
	full *verify.Result
}

// head is a Result without its digest, reference, duration and signatures.
type head struct {
	tag         string
	verified    bool
	level       string
	policy      string
	code        verify.Code
	reason      string
	remediation string
	nWarnings   int
	warnings    [maxCompactWarnings]string
}

// compactSig is one SignatureResult: the parts that vary per image, and a
// handle to the rest.
type compactSig struct {
	digest string
	// signedAt and expiresAt are the Result's own pointers, shared with
	// every answer as its slices were: read-only.
	signedAt, expiresAt *time.Time
	shape               unique.Handle[sigShape]
}

// sigShape is a SignatureResult without its digest and times.
type sigShape struct {
	verifier      string
	format        string
	signingScheme string
	signerSubject string
	signerIssuer  string
	signerSerial  string
	thumbprint    string
	verified      bool
	code          verify.Code
	reason        string
	remediation   string
	transient     bool
	nValidations  int
	validations   [maxCompactValidations]verify.Validation
}

// compact returns the form of r kept in the cache. r must be definitive.
func compact(r verify.Result) verdict {
	r.Reference, r.Duration = "", 0
	if !compactable(r) {
		return verdict{full: &r}
	}
	h := head{
		tag: r.Tag, verified: r.Verified, level: r.Level, policy: r.Policy,
		code: r.Code, reason: r.Reason, remediation: r.Remediation,
		nWarnings: len(r.Warnings),
	}
	copy(h.warnings[:], r.Warnings)
	v := verdict{head: unique.Make(h)}
	if r.Signatures != nil {
		v.sigs = make([]compactSig, len(r.Signatures))
		for i, s := range r.Signatures {
			sh := sigShape{
				verifier: s.Verifier, format: s.Format, signingScheme: s.SigningScheme,
				signerSubject: s.SignerSubject, signerIssuer: s.SignerIssuer,
				signerSerial: s.SignerSerial, thumbprint: s.Thumbprint,
				verified: s.Verified, code: s.Code, reason: s.Reason,
				remediation: s.Remediation, transient: s.Transient,
				nValidations: len(s.Validations),
			}
			copy(sh.validations[:], s.Validations)
			v.sigs[i] = compactSig{digest: s.Digest, signedAt: s.SignedAt, expiresAt: s.ExpiresAt, shape: unique.Make(sh)}
		}
	}
	return v
}

// compactable reports whether the compact form holds r exactly: no cause
// (unexported, so it cannot be rebuilt outside package verify), and slices
// that are nil or non-empty and fit the fixed arrays.
func compactable(r verify.Result) bool {
	if r.Cause() != nil || r.Transient {
		return false
	}
	if (r.Warnings != nil && len(r.Warnings) == 0) || len(r.Warnings) > maxCompactWarnings {
		return false
	}
	if r.Signatures != nil && len(r.Signatures) == 0 {
		return false
	}
	for _, s := range r.Signatures {
		if (s.Validations != nil && len(s.Validations) == 0) || len(s.Validations) > maxCompactValidations {
			return false
		}
	}
	return true
}

// result rebuilds the Result kept as v for the image with digest. Its
// slices are its own; the signing times are shared.
func (v verdict) result(digest string) verify.Result {
	if v.full != nil {
		return *v.full
	}
	h := v.head.Value()
	r := verify.Result{
		Digest: digest, Tag: h.tag, Verified: h.verified, Level: h.level, Policy: h.policy,
		Code: h.code, Reason: h.reason, Remediation: h.remediation,
	}
	if h.nWarnings > 0 {
		r.Warnings = append([]string(nil), h.warnings[:h.nWarnings]...)
	}
	if v.sigs == nil {
		return r
	}
	var vals []verify.Validation
	if len(v.sigs) == 1 {
		// The usual verdict, one signature: its validations and itself
		// in one allocation, since a hit is on every warm admission.
		one := new(struct {
			sig  [1]verify.SignatureResult
			vals [maxCompactValidations]verify.Validation
		})
		r.Signatures, vals = one.sig[:], one.vals[:0]
	} else {
		r.Signatures = make([]verify.SignatureResult, len(v.sigs))
	}
	for i, s := range v.sigs {
		sh := s.shape.Value()
		out := &r.Signatures[i]
		*out = verify.SignatureResult{
			Verifier: sh.verifier, Digest: s.digest, Format: sh.format, SigningScheme: sh.signingScheme,
			SignerSubject: sh.signerSubject, SignerIssuer: sh.signerIssuer, SignerSerial: sh.signerSerial,
			Thumbprint: sh.thumbprint, SignedAt: s.signedAt, ExpiresAt: s.expiresAt,
			Verified: sh.verified, Code: sh.code, Reason: sh.reason, Remediation: sh.remediation,
			Transient: sh.transient,
		}
		if sh.nValidations > 0 {
			// Capped, so that a caller's append copies instead of writing
			// past them.
			n := sh.nValidations
			out.Validations = append(vals, sh.validations[:n]...)[:n:n]
			vals = nil
		}
	}
	return r
}
