// Package providers opens the key provider a key reference names: a PKCS#11
// URI (RFC 7512) opens a token, an Azure Key Vault certificate or key URL
// opens the vault, and anything else is a NAME[/VERSION] in the local key
// store, which the caller opens itself (it knows the passphrase). The CLI
// and the server's trust stores resolve key references through it, so both
// accept the same forms.
package providers

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/pkcs11uri"
)

// ErrReference marks a key reference that cannot be parsed, as opposed to a
// provider that cannot be reached: the CLI reports it as a usage error.
var ErrReference = errors.New("bad key reference")

// IsPKCS11 reports whether s is a PKCS#11 URI; key names cannot hold ':'.
func IsPKCS11(s string) bool {
	return pkcs11uri.HasScheme(s)
}

// IsRemote reports whether s names a key outside the local store.
func IsRemote(s string) bool { return IsPKCS11(s) || azurekv.IsURL(s) }

// ParsePKCS11 parses a PKCS#11 URI and fills what it leaves out (module,
// token, PIN) from the environment.
func ParsePKCS11(s string) (*pkcs11.URI, error) {
	u, err := pkcs11.ParseURI(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReference, err)
	}
	if err := u.ConfigFromEnv(os.Getenv); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrReference, err)
	}
	return u, nil
}

// OpenVault connects to an Azure Key Vault with the default Azure
// credential chain (environment, workload identity, managed identity, Azure
// CLI).
func OpenVault(vaultURL string) (*azurekv.Provider, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure credentials: %w", err)
	}
	return azurekv.New(vaultURL, azurekv.Options{Credential: cred})
}

// OpenRemote opens the provider of a PKCS#11 URI or vault URL and returns
// it with the key it names and a function that releases it. A reference
// without a version names the newest for signing, and every version for a
// trust store.
func OpenRemote(ctx context.Context, s string) (keys.Provider, keys.Ref, func(), error) {
	if IsPKCS11(s) {
		u, err := ParsePKCS11(s)
		if err != nil {
			return nil, keys.Ref{}, nil, err
		}
		ref, err := u.Ref()
		if err != nil {
			return nil, keys.Ref{}, nil, fmt.Errorf("%w: %w", ErrReference, err)
		}
		p, err := pkcs11.Open(ctx, u.Config, pkcs11.Options{})
		if err != nil {
			return nil, keys.Ref{}, nil, err
		}
		return p, ref, func() { p.Close() }, nil
	}
	if azurekv.IsURL(s) {
		vault, ref, err := azurekv.ParseURL(s)
		if err != nil {
			return nil, keys.Ref{}, nil, fmt.Errorf("%w: %w", ErrReference, err)
		}
		p, err := OpenVault(vault)
		if err != nil {
			return nil, keys.Ref{}, nil, err
		}
		return p, ref, func() {}, nil
	}
	return nil, keys.Ref{}, nil, fmt.Errorf("%w: %q is neither a PKCS#11 URI nor an Azure Key Vault URL", ErrReference, s)
}

// Chains returns the certificate chains, leaf first, of the versions of
// ref in p that a trust store may hold (see Trusted).
func Chains(ctx context.Context, p keys.Provider, ref keys.Ref) ([][]*x509.Certificate, error) {
	infos, _, err := Trusted(ctx, p, ref)
	if err != nil {
		return nil, err
	}
	chains := make([][]*x509.Certificate, len(infos))
	for i, info := range infos {
		chains[i] = info.Chain
	}
	return chains, nil
}

// versionLister is a provider that can list one key's versions without
// reading every other key (Azure Key Vault, where reading a certificate's
// versions is a request per version).
type versionLister interface {
	Versions(ctx context.Context, name string) ([]keys.Info, error)
}

// Trusted returns the versions of ref in p that a trust store may hold:
// the one version ref names, or every version of ref.Name when it names
// none, less those the provider keeps disabled, which are returned apart
// so that the caller can say they were left out. A disabled version is
// never trusted (Ratify trusts none either): one named, or a name whose
// every version is disabled, is keys.ErrDisabled, returned with the
// disabled versions.
func Trusted(ctx context.Context, p keys.Provider, ref keys.Ref) (trusted, disabled []keys.Info, err error) {
	if ref.Version != "" {
		info, err := p.Get(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		if info.Disabled {
			return nil, []keys.Info{info}, fmt.Errorf("%w: version %s of %s", keys.ErrDisabled, ref.Version, ref.Name)
		}
		return []keys.Info{info}, nil, nil
	}
	var infos []keys.Info
	if vl, ok := p.(versionLister); ok {
		infos, err = vl.Versions(ctx, ref.Name)
	} else {
		infos, err = p.List(ctx)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, info := range infos {
		switch {
		case info.Name != ref.Name:
		case info.Disabled:
			disabled = append(disabled, info)
		default:
			trusted = append(trusted, info)
		}
	}
	switch {
	case len(trusted) > 0:
		return trusted, disabled, nil
	case len(disabled) > 0:
		return nil, disabled, fmt.Errorf("%w: every version of %s (%d)", keys.ErrDisabled, ref.Name, len(disabled))
	}
	return nil, nil, fmt.Errorf("key %s: %w", ref.Name, keys.ErrNotFound)
}
