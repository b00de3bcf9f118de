package serve

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv"
	"github.com/hallmark-dev/hallmark/internal/keys/providers"
	"github.com/hallmark-dev/hallmark/internal/oci/acr"
)

// vaultVersions reads the certificate versions of a Key Vault key source
// that it trusts, and those it left out because the vault has them
// disabled, with the identity the source names (src.Azure), or the default
// Azure credential chain when it names none. Its errors are one line each,
// saying which identity, which certificate and what to check: they are
// what a certificate store's status shows.
//
// A version the source would trust that the vault has disabled (the one
// named, the current one, or every version) is not an error: it is the
// vault's answer, and the source then trusts none of it. Disabling a
// version is how its owner revokes it, so a trust refresh must drop it,
// where a failed read keeps the certificates in force.
func vaultVersions(ctx context.Context, src config.CertificateSource) (trusted, disabled []keys.Info, err error) {
	vault, ref, err := azurekv.ParseURL(src.Key)
	if err != nil {
		return nil, nil, err
	}
	var (
		cred     azcore.TokenCredential
		identity = "the default Azure credential chain"
	)
	if src.Azure != nil {
		if cred, identity, err = azureCredential(src.Azure); err != nil {
			return nil, nil, err
		}
	} else if cred, err = defaultAzureCredential(); err != nil {
		return nil, nil, fmt.Errorf("azure credentials: %w", err)
	}
	p, err := azurekv.New(vault, azurekv.Options{Credential: cred})
	if err != nil {
		return nil, nil, err
	}
	if src.CurrentVersionOnly {
		info, err := p.Current(ctx, ref.Name)
		switch {
		case errors.Is(err, keys.ErrDisabled):
			return nil, []keys.Info{info}, nil
		case err != nil:
			return nil, nil, vaultError(vault, ref, identity, err)
		}
		return []keys.Info{info}, nil, nil
	}
	trusted, disabled, err = providers.Trusted(ctx, p, ref)
	switch {
	case errors.Is(err, keys.ErrDisabled):
		return nil, disabled, nil
	case err != nil:
		return nil, nil, vaultError(vault, ref, identity, err)
	}
	return trusted, disabled, nil
}

// vaultError says in one line why a vault certificate could not be read.
func vaultError(vault string, ref keys.Ref, identity string, err error) error {
	cert := "certificate " + ref.Name
	if ref.Version != "" {
		cert += " version " + ref.Version
	}
	var (
		auth *azidentity.AuthenticationFailedError
		ue   *url.Error
	)
	switch {
	case errors.As(err, &auth):
		code, check := acr.EntraAdvice(err)
		if code != "" {
			code = " (" + code + ")"
		}
		return fmt.Errorf("could not get an Azure token for %s to read %s in Key Vault %s%s: %s", identity, cert, vault, code, check)
	case errors.Is(err, keys.ErrNotFound):
		// Kept for errors.Is: a certificate the configuration in force
		// read and the vault no longer has was deleted (revoked).
		return &notInVault{fmt.Sprintf("no %s in Key Vault %s (read as %s): check the vault URI, the certificate's name and version", cert, vault, identity)}
	case strings.Contains(err.Error(), "access denied"):
		return fmt.Errorf("%s may not read %s in Key Vault %s: grant it get permission on the vault's certificates (the Key Vault Certificate User role, or an access policy)", identity, cert, vault)
	case errors.As(err, &ue):
		return fmt.Errorf("could not reach Key Vault %s to read %s as %s (%v): check the vault URI and that hallmark's pod can reach the vault", vault, cert, identity, ue.Err)
	}
	return fmt.Errorf("reading %s in Key Vault %s as %s: %s", cert, vault, identity, firstLine(err.Error()))
}

// notInVault is vaultError's "not found": its message, and keys.ErrNotFound
// to errors.Is.
type notInVault struct{ msg string }

func (e *notInVault) Error() string { return e.msg }
func (e *notInVault) Unwrap() error { return keys.ErrNotFound }

// firstLine keeps the first line of s: the SDK's errors carry the whole
// HTTP exchange after it.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return s[:i]
	}
	return s
}
