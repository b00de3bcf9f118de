package admission

import "errors"

// Sentinel errors of the admission domain. Callers match them with
// errors.Is; the wrapping errors say which object, field or image.
var (
	// ErrUnsupportedKind means the object is not a kind whose images
	// hallmark knows how to find (see Images). The webhook configuration
	// should not send such objects.
	ErrUnsupportedKind = errors.New("unsupported kind")

	// ErrMalformedObject means the object is not JSON of the expected
	// shape: a field that must be an object, a list or a string is not.
	ErrMalformedObject = errors.New("malformed object")

	// ErrTooManyImages means the object names more containers than
	// MaxContainers.
	ErrTooManyImages = errors.New("too many containers")

	// ErrInvalidPolicy means a Policy breaks a rule of Policy.Validate.
	ErrInvalidPolicy = errors.New("invalid admission policy")

	// ErrNotPinned means a tag could not be resolved to a digest; the error
	// is a *PinError.
	ErrNotPinned = errors.New("image not pinned to a digest")

	// ErrNotVerified means a tag resolved, but the digest it names did not
	// verify, so it was not pinned; the error is a *PinError that also
	// matches ErrNotPinned.
	ErrNotVerified = errors.New("image not verified")
)

// PinError reports why an image could not be pinned to a digest. Its text
// is safe to show to the person who created the object: it names the image
// and the registry, never credentials or URLs. The raw cause, which may say
// more, is kept for logs and errors.Is.
type PinError struct {
	// Image is the image reference as written in the object.
	Image string
	// Summary says what went wrong, for people.
	Summary string
	// Err is the underlying cause; it may be nil.
	Err error
}

var _ error = (*PinError)(nil)

// Error returns the safe summary, without the cause.
func (e *PinError) Error() string {
	return "cannot pin " + e.Image + " to a digest: " + e.Summary
}

// Unwrap makes errors.Is match ErrNotPinned and the cause.
func (e *PinError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotPinned}
	}
	return []error{ErrNotPinned, e.Err}
}
