package certpolicy

import "errors"

// Sentinel errors of certificate policies and issuing. Package keys exports
// the same values under the same names, so a provider's caller matches them
// with errors.Is whichever package it knows.
var (
	// ErrInvalidPolicy means a certificate policy cannot be used; the error
	// is a *PolicyError listing every problem with its JSON field path.
	ErrInvalidPolicy = errors.New("invalid certificate policy")
	// ErrNotCA means the key named as a certificate issuer cannot issue
	// certificates (its certificate is not a CA certificate, it is expired,
	// or its private key does not match it).
	ErrNotCA = errors.New("issuer is not a usable certificate authority")
	// ErrUnsupported means a key type the Notary Project does not allow, or
	// an HSM key type asked of software key generation.
	ErrUnsupported = errors.New("not supported")
)
