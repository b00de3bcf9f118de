package verify

import (
	"errors"

	"github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// Sentinel errors of the verify domain. Callers match them with errors.Is;
// the messages a person reads come from the wrapping errors and from
// Result.Reason.
var (
	// ErrTrustStoreNotFound means a trust store named by a trust policy has no
	// certificates. It is truststore.ErrNotFound.
	ErrTrustStoreNotFound = truststore.ErrNotFound

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
