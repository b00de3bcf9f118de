package pkcs11

import "errors"

// Errors of this provider beyond the keys sentinels it also returns
// (keys.ErrNotFound for a missing token or key, keys.ErrBadPassphrase for a
// missing or wrong PIN, keys.ErrExists, keys.ErrInvalidRef for a bad URI).
var (
	// ErrModule means the PKCS#11 module was not given, does not exist, or
	// cannot be loaded and initialized.
	ErrModule = errors.New("PKCS#11 module unusable")
	// ErrNoCgo means hallmark was built without cgo, which loading a PKCS#11
	// module needs.
	ErrNoCgo = errors.New("PKCS#11 support needs a hallmark built with cgo (CGO_ENABLED=1)")
)
