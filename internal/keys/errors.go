package keys

import (
	"errors"

	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

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
	// a *certpolicy.PolicyError listing every problem with its JSON field
	// path. It is certpolicy.ErrInvalidPolicy.
	ErrInvalidPolicy = certpolicy.ErrInvalidPolicy
	// ErrInvalidRef means a key name, version or NAME/VERSION reference is
	// malformed.
	ErrInvalidRef = errors.New("invalid key reference")
	// ErrNotCA means the key named as a certificate issuer cannot issue
	// certificates (its certificate is not a CA certificate, or it is
	// expired). It is certpolicy.ErrNotCA.
	ErrNotCA = certpolicy.ErrNotCA
	// ErrUnsupported means the provider cannot do what was asked, such as a
	// software store asked for an HSM-protected key, or a key type the Notary
	// Project does not allow. It is certpolicy.ErrUnsupported.
	ErrUnsupported = certpolicy.ErrUnsupported
	// ErrCorrupt means stored key data failed an integrity check: it was
	// damaged, tampered with, or moved from another key's slot.
	ErrCorrupt = errors.New("key data is damaged")
	// ErrDisabled means the provider holds the version asked for but has
	// it switched off (Azure Key Vault's attributes.enabled false), so it
	// must not be trusted.
	ErrDisabled = errors.New("key version is disabled")
)
