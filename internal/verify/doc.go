// Package verify decides whether a container image may be trusted: its
// Engine verifies an image's signatures in a registry against a Notary
// Project trust policy (read by verify/trustpolicy) and trust store
// (verify/truststore) with notation-go, returning a Result that says what
// was checked and, when the image is not verified, a reason a person can act
// on (explain.go turns notation-go's outcomes into those reasons).
//
// One Engine serves every caller: `hallmark verify`, both admission
// encodings, audit and the demo. It never returns a passing Result for an
// error.
package verify
