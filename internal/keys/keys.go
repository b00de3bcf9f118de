// Package keys defines hallmark's key-provider contract: a provider creates a
// private key and its certificate from a certificate policy (package
// keys/certpolicy reads the policy and issues the certificate), keeps versions of
// it, signs with it through a crypto.Signer, and hands out certificates by name
// and version for trust stores. Private keys never leave a provider.
//
// Backends live below this package: keys/local (the embedded, encrypted store),
// keys/pkcs11 (PKCS#11 tokens) and keys/azurekv (Azure Key Vault).
package keys

import (
	"context"
	"crypto"
	"crypto/x509"
	"time"

	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

// Ref names a key: Name alone means the newest version, Name plus Version a
// specific one. Its text form is "NAME" or "NAME/VERSION" (see ParseRef).
type Ref struct {
	Name    string
	Version string // "" means the newest version
}

// Info describes one version of a key without any private material.
type Info struct {
	Name    string
	Version string
	Created time.Time
	// KeyType is the Notary Project key spec of the leaf's public key:
	// "RSA-2048", "RSA-3072", "RSA-4096", "EC-256", "EC-384" or "EC-521".
	KeyType string
	// Chain is the certificate chain, leaf first, ending in a self-signed
	// root. A self-signed key has a chain of one.
	Chain []*x509.Certificate
	// Exportable is what the policy asked for. hallmark never exports private
	// keys; the flag is kept so a policy round-trips to Azure Key Vault.
	Exportable bool
	// Policy is the certificate policy the version was made from, with
	// defaults applied; nil when the provider does not keep it.
	Policy *certpolicy.Policy
	// Disabled reports that the provider keeps the version switched off
	// (Azure Key Vault's attributes.enabled false): a trust store must not
	// trust it. False for providers that cannot switch versions off.
	Disabled bool
}

// Key is a usable signing key: a crypto.Signer whose private half stays in the
// provider, and its certificate chain, leaf first, ending in a root.
type Key struct {
	Info
	Signer crypto.Signer
}

// Issuer returns k as the issuer of other keys' certificates, for
// certpolicy.CheckIssuer and IssueCertificate; nil for a nil k (a
// self-signed certificate).
func (k *Key) Issuer() *certpolicy.Issuer {
	if k == nil {
		return nil
	}
	return &certpolicy.Issuer{Name: Ref{Name: k.Name, Version: k.Version}.String(), Signer: k.Signer, Chain: k.Chain}
}

// PublicKey is one version of a key's public key, as a provider that reads
// keys without certificates (azurekv's PublicKeys) gives it.
type PublicKey struct {
	Version string
	Key     crypto.PublicKey
}

// Provider is the contract every key backend implements.
type Provider interface {
	// Create makes version 1 of a new key from the policy. It fails with
	// ErrExists when the name is taken.
	Create(ctx context.Context, name string, p *certpolicy.Policy) (Info, error)
	// Rotate makes a new version of an existing key with the policy of its
	// newest version (or p, when not nil).
	Rotate(ctx context.Context, name string, p *certpolicy.Policy) (Info, error)
	// List returns every version of every key, by name then version.
	List(ctx context.Context) ([]Info, error)
	// Get returns one version's public information (ErrNotFound if absent).
	Get(ctx context.Context, ref Ref) (Info, error)
	// Signer returns the key for signing (ErrNotFound, ErrBadPassphrase).
	Signer(ctx context.Context, ref Ref) (*Key, error)
}
