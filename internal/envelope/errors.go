package envelope

import "errors"

// Sentinel errors of envelope description. Callers match them with
// errors.Is; messages carry the detail.
var (
	// ErrMalformed means the bytes are not a readable Notary Project
	// signature envelope of the declared media type.
	ErrMalformed = errors.New("malformed signature envelope")

	// ErrTooLarge means the envelope is bigger than MaxEnvelopeSize and was
	// not parsed.
	ErrTooLarge = errors.New("signature envelope too large")

	// ErrUnsupportedMediaType means the media type is neither JWS nor COSE.
	ErrUnsupportedMediaType = errors.New("unsupported signature envelope media type")
)

// malformedError reads as "signature envelope is not valid COSE: <cause>"
// while matching ErrMalformed, so the message leads with what the user has
// in hand rather than with the sentinel's generic text.
type malformedError struct {
	msg string
	err error
}

func (e *malformedError) Error() string {
	if e.err == nil {
		return e.msg
	}
	return e.msg + ": " + e.err.Error()
}

func (e *malformedError) Unwrap() error { return e.err }

func (e *malformedError) Is(target error) bool { return target == ErrMalformed }
