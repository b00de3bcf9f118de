package keys

import "errors"

// Sentinel errors shared by every key provider. Providers wrap them with the
// detail a person needs ("key release has no version 7 (versions: 1, 2)"), so
// match them with errors.Is and show the full message.
var (
	// ErrNotFound means the named key, version or issuer does not exist.
	ErrNotFound = errors.New("key not found")
	// ErrExists means a key with that name (or that version) already exists.
	ErrExists = errors.New("key already exists")
	// ErrBadPassphrase means the passphrase is missing or does not decrypt the
	// key. It is never returned for damaged data: see ErrCorrupt.
	ErrBadPassphrase = errors.New("wrong or missing passphrase")
	// ErrInvalidPolicy means a certificate policy cannot be used; the error is
	// a *PolicyError listing every problem with its JSON field path.
	ErrInvalidPolicy = errors.New("invalid certificate policy")
	// ErrInvalidRef means a key name, version or NAME/VERSION reference is
	// malformed.
	ErrInvalidRef = errors.New("invalid key reference")
	// ErrNotCA means the key named as a certificate issuer cannot issue
	// certificates (its certificate is not a CA certificate, or it is expired).
	ErrNotCA = errors.New("issuer is not a usable certificate authority")
	// ErrUnsupported means the provider cannot do what was asked, such as a
	// software store asked for an HSM-protected key, or a key type the Notary
	// Project does not allow.
	ErrUnsupported = errors.New("not supported")
	// ErrCorrupt means stored key data failed an integrity check: it was
	// damaged, tampered with, or moved from another key's slot.
	ErrCorrupt = errors.New("key data is damaged")
)
