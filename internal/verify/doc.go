// Package verify decides whether a container image may be trusted: it reads
// Notary Project trust policies (trustpolicy.json) and trust stores, and its
// Engine verifies an image's signatures in a registry against them with
// notation-go, returning a Result that says what was checked and, when the
// image is not verified, a reason a person can act on.
//
// One Engine serves every caller: `hallmark verify`, both admission
// encodings, audit and the demo. It never returns a passing Result for an
// error.
package verify
