//go:build !cgo

package pkcs11

import (
	"context"
	"crypto/x509"
	"time"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

// Options configures a Provider. The zero value uses the system clock.
type Options struct {
	// Now returns the time certificates are issued at; nil means time.Now.
	Now func() time.Time
}

// Provider is a keys.Provider over one PKCS#11 token; without cgo there is
// none to open.
type Provider struct{}

var _ keys.Provider = (*Provider)(nil)

// Open fails with ErrNoCgo: loading a PKCS#11 module needs cgo.
func Open(ctx context.Context, cfg Config, opts Options) (*Provider, error) { return nil, ErrNoCgo }

// Close does nothing.
func (p *Provider) Close() error { return nil }

// Create fails with ErrNoCgo.
func (p *Provider) Create(context.Context, string, *certpolicy.Policy) (keys.Info, error) {
	return keys.Info{}, ErrNoCgo
}

// Rotate fails with ErrNoCgo.
func (p *Provider) Rotate(context.Context, string, *certpolicy.Policy) (keys.Info, error) {
	return keys.Info{}, ErrNoCgo
}

// List fails with ErrNoCgo.
func (p *Provider) List(context.Context) ([]keys.Info, error) { return nil, ErrNoCgo }

// Get fails with ErrNoCgo.
func (p *Provider) Get(context.Context, keys.Ref) (keys.Info, error) { return keys.Info{}, ErrNoCgo }

// Certificates fails with ErrNoCgo.
func (p *Provider) Certificates(context.Context, keys.Ref) ([]*x509.Certificate, error) {
	return nil, ErrNoCgo
}

// Signer fails with ErrNoCgo.
func (p *Provider) Signer(context.Context, keys.Ref) (*keys.Key, error) { return nil, ErrNoCgo }
