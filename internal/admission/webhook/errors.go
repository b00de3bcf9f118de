package webhook

import "errors"

// ErrBadReview means a request body is not an AdmissionReview this package
// can answer: not JSON, the wrong kind or apiVersion, or a request without
// a uid, a kind or a known operation. The handlers answer it with 400.
var ErrBadReview = errors.New("bad AdmissionReview")
