package gatekeeper

import (
	"errors"
	"fmt"
)

// Sentinel errors for requests the handlers refuse as a whole; the answer
// carries the text in systemError.
var (
	// ErrBadRequest means the body is not a ProviderRequest: not JSON, the
	// wrong kind or apiVersion, or no request. Answered with 400.
	ErrBadRequest = errors.New("bad ProviderRequest")

	// ErrTooManyKeys means a request has more than MaxKeys keys. Answered
	// with 413. It also matches ErrBadRequest.
	ErrTooManyKeys = fmt.Errorf("%w: too many keys", ErrBadRequest)
)
