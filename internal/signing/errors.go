package signing

import "errors"

// Sentinel errors of the signing domain. Callers match them with errors.Is;
// the wrapped message carries the detail.
var (
	// ErrInvalidOptions means Options failed validation.
	ErrInvalidOptions = errors.New("invalid signing options")

	// ErrUnsupportedKey means the leaf certificate's public key is not one
	// the Notary Project allows (RSA 2048/3072/4096, EC P-256/P-384/P-521).
	ErrUnsupportedKey = errors.New("unsupported signing key")

	// ErrKeyMismatch means the signer's public key is not the public key in
	// the leaf certificate, so every signature would fail verification.
	ErrKeyMismatch = errors.New("signing key does not match the leaf certificate")

	// ErrInvalidChain means the certificate chain breaks the Notary Project
	// certificate requirements (key usage, extended key usage, ordering,
	// validity, a self-signed root at the end).
	ErrInvalidChain = errors.New("certificate chain does not meet the Notary Project certificate requirements")

	// ErrBadSignature means the key store returned a signature that is
	// malformed or does not verify with the leaf certificate's public key.
	ErrBadSignature = errors.New("key store returned an unusable signature")

	// ErrNotDigest means the artifact reference names a tag, not a digest.
	ErrNotDigest = errors.New("artifact reference must name a digest")

	// ErrTimestamp means the RFC 3161 timestamp authority could not be
	// reached, refused the request, or returned a token that did not verify
	// against Options.TimestampRootCAs. No signature is produced then: a
	// caller who asked for a timestamp must not get a signature without one.
	ErrTimestamp = errors.New("timestamping the signature failed")
)
