package pkcs11

import "github.com/hallmark-dev/hallmark/internal/keys/pkcs11/pkcs11uri"

// The URI grammar lives in pkcs11uri, which needs neither cgo nor crypto11,
// so that a configuration naming a token can be checked without linking
// them; these names keep the provider's API whole.

// Scheme starts every PKCS#11 URI.
const Scheme = pkcs11uri.Scheme

// MaxURILength caps a PKCS#11 URI.
const MaxURILength = pkcs11uri.MaxURILength

// Environment variables that configure the provider where a URI leaves a
// field out (see URI.ConfigFromEnv).
const (
	EnvModule  = pkcs11uri.EnvModule
	EnvToken   = pkcs11uri.EnvToken
	EnvPIN     = pkcs11uri.EnvPIN
	EnvPINFile = pkcs11uri.EnvPINFile
)

// Config says which token to use and how to log in (pkcs11uri.Config).
type Config = pkcs11uri.Config

// URI is a parsed RFC 7512 PKCS#11 URI (pkcs11uri.URI).
type URI = pkcs11uri.URI

// ParseURI parses a PKCS#11 URI (pkcs11uri.ParseURI).
func ParseURI(s string) (*URI, error) { return pkcs11uri.ParseURI(s) }
