package server

import "errors"

// Sentinel errors of the server domain. Callers match them with errors.Is;
// the wrapping error names the file or option at fault.
var (
	// ErrInvalidOptions means Options (or CertWatcherOptions) cannot describe
	// a working server: no serving certificate, both files and an in-memory
	// certificate, a certificate file without its key.
	ErrInvalidOptions = errors.New("invalid server options")

	// ErrInvalidCertificate means a serving certificate and key cannot be
	// used together: unreadable, not PEM, no certificate, or a key that does
	// not match the certificate. A reload failing with it keeps the
	// certificate already in use.
	ErrInvalidCertificate = errors.New("invalid serving certificate")

	// ErrInvalidClientCA means the client CA file holds no usable
	// certificate. A reload failing with it keeps the CAs already in use.
	ErrInvalidClientCA = errors.New("invalid client CA bundle")

	// ErrServerStarted means Listen or Serve was called on a server that
	// already listens or serves: a Server runs once.
	ErrServerStarted = errors.New("server already started")
)
