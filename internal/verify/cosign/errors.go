package cosign

import "errors"

// Errors of configuration input. Verification failures are not errors: they
// are verify.Results that say why.
var (
	// ErrInvalidKey: a public key file or PEM block does not hold a public
	// key cosign could have signed with.
	ErrInvalidKey = errors.New("invalid cosign public key")
	// ErrInvalidTrustedRoot: a trusted root JSON document does not parse
	// or holds unusable material.
	ErrInvalidTrustedRoot = errors.New("invalid Sigstore trusted root")
	// ErrInvalidPolicy: a cosign policy is incomplete or contradictory.
	ErrInvalidPolicy = errors.New("invalid cosign policy")
)
