package verify

import "time"

// Code is a stable, machine-readable name for a verification outcome, for
// metrics labels, exit codes and Ratify's errorReason. Reason is the text
// for people; Code is what programs switch on.
type Code string

// Outcome codes. A Result or SignatureResult has exactly one.
const (
	CodeVerified Code = "verified"
	// CodeSkipped: the trust policy statement has level skip.
	CodeSkipped Code = "skipped"

	// Configuration and input.
	CodeInvalidReference   Code = "invalidReference"
	CodeNoApplicablePolicy Code = "noApplicablePolicy"
	CodeTrustStoreMissing  Code = "trustStoreMissing"

	// What the registry holds.
	CodeNoSignature         Code = "noSignature"
	CodeImageNotFound       Code = "imageNotFound"
	CodeRegistryAccess      Code = "registryAccessDenied" // 401, 403
	CodeRegistryUnavailable Code = "registryUnavailable"  // network, 408, 429, 5xx: transient
	CodeRegistryError       Code = "registryError"        // any other registry failure
	CodeTimeout             Code = "timeout"              // the caller's deadline passed: transient
	CodeSignatureUnreadable Code = "signatureUnreadable"  // a signature manifest or envelope could not be read

	// Why a signature failed.
	CodeUnsupportedFormat       Code = "unsupportedSignatureFormat"
	CodeIntegrity               Code = "integrityFailed" // tampered or corrupted envelope
	CodeInvalidCertificateChain Code = "invalidCertificateChain"
	CodePluginRequired          Code = "verificationPluginRequired"
	CodeUntrustedSigner         Code = "untrustedSigner"
	CodeIdentityMismatch        Code = "identityMismatch"
	CodeSignatureExpired        Code = "signatureExpired"
	CodeCertificateExpired      Code = "certificateExpired"
	CodeCertificateNotYetValid  Code = "certificateNotYetValid"
	CodeTimestampInvalid        Code = "timestampInvalid"
	CodeCertificateRevoked      Code = "certificateRevoked"
	CodeRevocationUnknown       Code = "revocationUnknown" // OCSP/CRL unreachable: transient
	CodeDigestMismatch          Code = "digestMismatch"    // the signature is for another artifact
	// CodeTransparencyLogMissing: a cosign signature lacks the
	// transparency-log entry (or signed timestamp) its policy requires.
	CodeTransparencyLogMissing Code = "transparencyLogMissing"
	CodeError                  Code = "verificationError" // an unexpected failure
)

// Validation types reported in Validation.Type, in the order notation-go
// runs them.
const (
	ValidationIntegrity          = "integrity"
	ValidationAuthenticity       = "authenticity"
	ValidationAuthenticTimestamp = "authenticTimestamp"
	ValidationExpiry             = "expiry"
	ValidationRevocation         = "revocation"
)

// Validation actions reported in Validation.Action: what the trust policy
// level does when the check fails.
const (
	ActionEnforced = "enforced" // a failure fails the signature
	ActionLogged   = "logged"   // a failure is reported but the signature may still pass
	ActionSkipped  = "skipped"  // the check is not run
)

// Result is the verdict on one image: what `hallmark verify -o json`
// prints, what admission turns into a decision, and what the cache stores.
// Verified is true only when the trust policy accepted the image; an error
// never yields Verified.
type Result struct {
	// Reference is the image reference as given.
	Reference string `json:"reference"`
	// Digest is the manifest digest that was verified: the digest in the
	// reference, or the one its tag resolved to. Empty if not known.
	Digest string `json:"digest,omitempty"`
	// Tag is set when the reference named a tag and it was resolved to
	// Digest: tags are mutable, so the verdict holds for Digest only.
	Tag string `json:"tag,omitempty"`
	// Verified reports that the image may be trusted under the policy
	// (for level skip: that the policy does not ask for verification).
	Verified bool `json:"verified"`
	// Level is the verification level of the policy statement applied:
	// strict, permissive, audit, skip, or custom (a level with overrides).
	Level string `json:"level,omitempty"`
	// Policy is the name of the trust policy statement applied.
	Policy string `json:"policy,omitempty"`
	// Code names the outcome for programs.
	Code Code `json:"code"`
	// Reason says in one sentence why the image is or is not verified and,
	// when it is not, what to do. It names images, repositories, registry
	// hosts and certificate subjects, never credentials or URLs, so it is
	// safe to show in an admission denial.
	Reason string `json:"reason"`
	// Remediation is the step to take, alone, for encodings that have a
	// separate field for it (Ratify's remediation). Empty when verified
	// without warnings.
	Remediation string `json:"remediation,omitempty"`
	// Warnings lists what a person should know although the verdict stands:
	// checks that failed but the level only logs, a skipped verification.
	Warnings []string `json:"warnings,omitempty"`
	// Signatures lists each signature examined, in registry order, up to
	// and including the one that verified.
	Signatures []SignatureResult `json:"signatures,omitempty"`
	// Transient reports that the verdict is not definitive: the registry, a
	// revocation responder or the deadline failed, and a retry may succeed.
	// Transient results must not be cached as verdicts.
	Transient bool `json:"transient"`
	// Duration is how long verification took, in nanoseconds in JSON.
	Duration time.Duration `json:"durationNs"`
	// Cached reports that the result came from a cache, not a fresh
	// verification. The engine never sets it.
	Cached bool `json:"cached"`

	// cause is the underlying error, for logs via Err; it is not
	// serialized because its text may carry internal detail.
	cause error
}

// SignatureResult is the outcome of one signature.
type SignatureResult struct {
	// Verifier names the signature format's verifier: empty for a Notary
	// Project signature, "cosign" for a cosign signature.
	Verifier string `json:"verifier,omitempty"`
	// Digest is the signature manifest digest; for a cosign simple-signing
	// signature, whose manifest holds one signature per layer, the digest
	// of its payload layer.
	Digest string `json:"digest"`
	// Format is the envelope media type: application/jose+json or
	// application/cose; for cosign, the simple-signing layer's or the
	// Sigstore bundle's media type.
	Format string `json:"format,omitempty"`
	// SigningScheme is notary.x509 or notary.x509.signingAuthority; for
	// cosign, sigstore.key (a public key) or sigstore.keyless (a Fulcio
	// certificate, whose SignerSubject is its identity and SignerIssuer its
	// OIDC issuer).
	SigningScheme string `json:"signingScheme,omitempty"`
	// SignerSubject and SignerIssuer are the subject and issuer DNs of the
	// signing (leaf) certificate; SignerSerial is its serial number in hex.
	// They are set once the envelope passed the integrity check.
	SignerSubject string `json:"signerSubject,omitempty"`
	SignerIssuer  string `json:"signerIssuer,omitempty"`
	SignerSerial  string `json:"signerSerial,omitempty"`
	// Thumbprint is the SHA-256 fingerprint of the signing certificate in
	// lower-case hex, as in the signature manifest's thumbprint annotation.
	Thumbprint string `json:"thumbprint,omitempty"`
	// SignedAt is the signing time the envelope claims (authentic only for
	// the signingAuthority scheme or with a verified timestamp).
	SignedAt *time.Time `json:"signedAt,omitempty"`
	// ExpiresAt is the signature's expiry, if it has one.
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// Validations lists the five Notary Project checks in order.
	Validations []Validation `json:"validations,omitempty"`
	// Verified reports that this signature passed the trust policy.
	Verified bool `json:"verified"`
	// Code, Reason and Remediation explain a failure, as in Result.
	Code        Code   `json:"code"`
	Reason      string `json:"reason,omitempty"`
	Remediation string `json:"remediation,omitempty"`
	// Transient reports that the failure may go away on retry.
	Transient bool `json:"transient,omitempty"`

	// logged keeps the explained failures of logged checks of a verified
	// signature, which become the Result's warnings.
	logged []loggedFailure
}

type loggedFailure struct {
	check string
	explanation
}

// Validation is one Notary Project check on one signature.
type Validation struct {
	// Type is integrity, authenticity, authenticTimestamp, expiry or
	// revocation.
	Type string `json:"type"`
	// Action is what the level does on failure: enforced, logged or skipped.
	Action string `json:"action"`
	// Checked reports that the check ran. A check does not run when it is
	// skipped, or when an earlier enforced check already failed.
	Checked bool `json:"checked"`
	// Passed reports that the check ran and succeeded.
	Passed bool `json:"passed"`
	// Message explains a failure or why the check did not run.
	Message string `json:"message,omitempty"`
}

// Err returns nil when the image is verified, and otherwise an error whose
// text is Reason. It matches ErrNotVerified and the sentinel for Code (for
// example ErrNoSignature or ErrRegistry), and wraps the underlying cause when
// the Result came straight from the engine. Use it for logs and exit codes;
// show Reason to people.
func (r Result) Err() error {
	if r.Verified {
		return nil
	}
	reason := r.Reason
	if reason == "" {
		reason = "image not verified"
	}
	return &resultError{reason: reason, kind: sentinelFor(r.Code), cause: r.cause}
}

// Cause returns the underlying error a failure came from (a registry's
// answer, a TLS or network error), or nil. Its text may name internal
// addresses: it is for the server's log, never for Reason.
func (r Result) Cause() error { return r.cause }

func sentinelFor(c Code) error {
	switch c {
	case CodeInvalidReference:
		return ErrInvalidReference
	case CodeNoApplicablePolicy:
		return ErrNoApplicablePolicy
	case CodeTrustStoreMissing:
		return ErrTrustStoreNotFound
	case CodeNoSignature:
		return ErrNoSignature
	case CodeImageNotFound, CodeRegistryAccess, CodeRegistryUnavailable, CodeRegistryError, CodeTimeout:
		return ErrRegistry
	default:
		return ErrSignatureInvalid
	}
}

type resultError struct {
	reason string
	kind   error
	cause  error
}

func (e *resultError) Error() string { return e.reason }

func (e *resultError) Unwrap() []error {
	errs := []error{ErrNotVerified, e.kind}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}
