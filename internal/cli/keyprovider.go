package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11"
	"github.com/hallmark-dev/hallmark/internal/keys/providers"
)

// Key providers the key commands can use.
const (
	providerLocal   = "local"
	providerPKCS11  = "pkcs11"
	providerAzureKV = "azurekv"
)

// providerFlags choose the key provider of the key commands that take a key
// name rather than a key reference.
type providerFlags struct {
	provider  string
	pkcs11URI string
	vaultURL  string
}

func (p *providerFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.provider, "provider", providerLocal, `key provider: "local" (the key store folder), "pkcs11" (a token; see --pkcs11-uri) or "azurekv" (Azure Key Vault; see --vault-url)`)
	f.StringVar(&p.vaultURL, "vault-url", "", "Azure Key Vault URL, e.g. https://myvault.vault.azure.net (with --provider azurekv; credentials from the Azure default credential chain)")
	f.StringVar(&p.pkcs11URI, "pkcs11-uri", "", "PKCS#11 URI of the token (RFC 7512), e.g. 'pkcs11:token=hsm?module-path=/usr/lib/softhsm/libsofthsm2.so'; "+
		"what it leaves out comes from $HALLMARK_PKCS11_MODULE, $HALLMARK_PKCS11_TOKEN and $HALLMARK_PKCS11_PIN or $HALLMARK_PKCS11_PIN_FILE")
}

// open returns the chosen provider and a function that releases it. For
// pkcs11, name (when not empty) must match the URI's object, if it has one.
func (p *providerFlags) open(ctx context.Context, g *globalOptions, name string) (keys.Provider, func(), error) {
	switch p.provider {
	case providerLocal:
		if p.pkcs11URI != "" {
			return nil, nil, usageError{fmt.Errorf("--pkcs11-uri needs --provider pkcs11")}
		}
		if p.vaultURL != "" {
			return nil, nil, usageError{fmt.Errorf("--vault-url needs --provider azurekv")}
		}
		s, err := g.openStore()
		return s, func() {}, err
	case providerPKCS11:
		uri := p.pkcs11URI
		if uri == "" {
			uri = pkcs11.Scheme
		}
		u, err := parsePKCS11(uri)
		if err != nil {
			return nil, nil, err
		}
		if name != "" && u.Object != "" && u.Object != name {
			return nil, nil, usageError{fmt.Errorf("--pkcs11-uri names object %q but the key is %q; leave object out of the URI", u.Object, name)}
		}
		prov, err := pkcs11.Open(ctx, u.Config, pkcs11.Options{})
		if err != nil {
			return nil, nil, err
		}
		return prov, func() { prov.Close() }, nil
	case providerAzureKV:
		if p.vaultURL == "" {
			return nil, nil, usageError{fmt.Errorf("--provider azurekv needs --vault-url https://NAME.vault.azure.net")}
		}
		prov, err := providers.OpenVault(p.vaultURL)
		if err != nil {
			return nil, nil, err
		}
		return prov, func() {}, nil
	default:
		return nil, nil, usageError{fmt.Errorf(`--provider %q: use "local", "pkcs11" or "azurekv"`, p.provider)}
	}
}

// parsePKCS11 parses a PKCS#11 URI, filling what it leaves out from the
// environment; a malformed one is a usage error.
func parsePKCS11(s string) (*pkcs11.URI, error) {
	u, err := providers.ParsePKCS11(s)
	if err != nil {
		return nil, usageError{err}
	}
	return u, nil
}

// withKeyRef resolves a key argument: NAME[/VERSION] in the local store, a
// PKCS#11 URI naming a key on a token, or an Azure Key Vault certificate or
// key URL. release must be called when done.
func (g *globalOptions) withKeyRef(ctx context.Context, s string) (prov keys.Provider, ref keys.Ref, release func(), err error) {
	if providers.IsRemote(s) {
		prov, ref, release, err := providers.OpenRemote(ctx, s)
		if errors.Is(err, providers.ErrReference) {
			err = usageError{err}
		}
		return prov, ref, release, err
	}
	ref, err = keys.ParseRef(s)
	if err != nil {
		return nil, keys.Ref{}, nil, usageError{err}
	}
	store, err := g.openStore()
	if err != nil {
		return nil, keys.Ref{}, nil, err
	}
	return store, ref, func() {}, nil
}
