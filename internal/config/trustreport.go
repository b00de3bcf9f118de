package config

import (
	"crypto/x509"
	"time"
)

// TrustSource is what one trust store certificate source gave when the
// server built its trust stores: the runtime reports it, and a source of
// Ratify's resources shows it in their status.
type TrustSource struct {
	// Path is the source's path in the configuration:
	// trustStores[I].certificates[J].
	Path string
	// Certificates are those the source added to its store; nil on error.
	Certificates []*x509.Certificate
	// Versions are, for a Key Vault certificate source, the vault versions
	// the certificates were read from, one per version trusted (a version
	// named, the current one, or every enabled one); nil for other
	// sources.
	Versions []string
	// Disabled are, for a Key Vault source, the versions left out because
	// the vault has them disabled.
	Disabled []string
	// Missing, for a Key Vault source that the configuration in force had
	// read, says that the vault no longer holds its certificate: deleted,
	// so the source trusts nothing.
	Missing error
	// Err is why the source gave none; nil when it did.
	Err error
}

// TrustReport is how the trust stores of a configuration were built, at a
// build of a generation or a trust refresh.
type TrustReport struct {
	// Config is the configuration built.
	Config *Config
	// Time is when the certificates were read.
	Time time.Time
	// Sources are what each certificate source gave.
	Sources []TrustSource
	// InForce reports whether the certificates read are the ones in
	// force; false when the build or refresh failed and the previous
	// generation's stay.
	InForce bool
	// Err is why the build or refresh failed; nil when it did not.
	Err error
}
