package verify

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors of the verify domain. Callers match them with errors.Is;
// the messages a person reads come from the wrapping errors and from
// Result.Reason.
var (
	// ErrInvalidPolicy means a trust policy document is malformed or breaks a
	// Notary Project rule. The error is a *PolicyError listing every problem.
	ErrInvalidPolicy = errors.New("invalid trust policy")

	// ErrInvalidTrustStore means a trust store directory or certificate is
	// unusable. The error is a *TrustStoreError listing every problem.
	ErrInvalidTrustStore = errors.New("invalid trust store")

	// ErrTrustStoreNotFound means a trust store named by a trust policy has no
	// certificates.
	ErrTrustStoreNotFound = errors.New("trust store not found")

	// ErrNotVerified is wrapped by every error from Result.Err: the image was
	// not positively verified, whatever the more specific cause.
	ErrNotVerified = errors.New("image not verified")

	// ErrInvalidReference means the image reference cannot be verified as
	// written (no registry, malformed).
	ErrInvalidReference = errors.New("invalid image reference")

	// ErrNoApplicablePolicy means no trust policy statement covers the
	// image's repository.
	ErrNoApplicablePolicy = errors.New("no applicable trust policy")

	// ErrNoSignature means the registry holds no Notary Project signature for
	// the image.
	ErrNoSignature = errors.New("no signature")

	// ErrSignatureInvalid means signatures exist but none passed the trust
	// policy.
	ErrSignatureInvalid = errors.New("no signature passed verification")

	// ErrRegistry means the registry could not be read: access denied, not
	// found, rate limited, unavailable or unreachable. Result.Transient tells
	// whether a retry may succeed.
	ErrRegistry = errors.New("registry error")
)

// Problem is one thing wrong with a configuration input, located by Path: a
// JSON field path such as "trustPolicies[1].registryScopes[0]" for a trust
// policy, or a file path for a trust store. Path is empty when the problem is
// about the input as a whole.
type Problem struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// String renders the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// PolicyError reports every problem found in a trust policy at once, so a
// person can fix them in one edit instead of one per run.
type PolicyError struct {
	// Source names the input (a file path), or is empty for bytes in memory.
	Source   string
	Problems []Problem
}

// Error lists the problems one per line.
func (e *PolicyError) Error() string {
	return problemsText("trust policy", e.Source, e.Problems)
}

// Is makes errors.Is(err, ErrInvalidPolicy) true.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalidPolicy }

// TrustStoreError reports every problem found while loading a trust store.
type TrustStoreError struct {
	// Source is the trust store directory.
	Source   string
	Problems []Problem
}

// Error lists the problems one per line.
func (e *TrustStoreError) Error() string {
	return problemsText("trust store", e.Source, e.Problems)
}

// Is makes errors.Is(err, ErrInvalidTrustStore) true.
func (e *TrustStoreError) Is(target error) bool { return target == ErrInvalidTrustStore }

func problemsText(what, source string, problems []Problem) string {
	var b strings.Builder
	b.WriteString(what)
	if source != "" {
		fmt.Fprintf(&b, " %s", source)
	}
	if len(problems) == 1 {
		b.WriteString(" has 1 problem:")
	} else {
		fmt.Fprintf(&b, " has %d problems:", len(problems))
	}
	for _, p := range problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}
