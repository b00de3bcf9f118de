package cli

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11"
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
		prov, err := openVault(p.vaultURL)
		if err != nil {
			return nil, nil, err
		}
		return prov, func() {}, nil
	default:
		return nil, nil, usageError{fmt.Errorf(`--provider %q: use "local", "pkcs11" or "azurekv"`, p.provider)}
	}
}

// parsePKCS11 parses a PKCS#11 URI and fills what it leaves out from the
// environment.
func parsePKCS11(s string) (*pkcs11.URI, error) {
	u, err := pkcs11.ParseURI(s)
	if err != nil {
		return nil, usageError{err}
	}
	if err := u.ConfigFromEnv(os.Getenv); err != nil {
		return nil, usageError{err}
	}
	return u, nil
}

// isPKCS11 reports whether a key argument is a PKCS#11 URI rather than a key
// name; key names cannot contain ':'.
func isPKCS11(s string) bool {
	return len(s) >= len(pkcs11.Scheme) && strings.EqualFold(s[:len(pkcs11.Scheme)], pkcs11.Scheme)
}

// openVault connects to an Azure Key Vault with the default Azure credential
// chain (environment, workload identity, managed identity, Azure CLI).
func openVault(vaultURL string) (*azurekv.Provider, error) {
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		return nil, fmt.Errorf("azure credentials: %w", err)
	}
	return azurekv.New(vaultURL, azurekv.Options{Credential: cred})
}

// withKeyRef resolves a key argument: NAME[/VERSION] in the local store, a
// PKCS#11 URI naming a key on a token, or an Azure Key Vault certificate or
// key URL. release must be called when done.
func (g *globalOptions) withKeyRef(ctx context.Context, s string) (prov keys.Provider, ref keys.Ref, release func(), err error) {
	if isPKCS11(s) {
		u, err := parsePKCS11(s)
		if err != nil {
			return nil, keys.Ref{}, nil, err
		}
		ref, err := u.Ref()
		if err != nil {
			return nil, keys.Ref{}, nil, usageError{err}
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
			return nil, keys.Ref{}, nil, usageError{err}
		}
		p, err := openVault(vault)
		if err != nil {
			return nil, keys.Ref{}, nil, err
		}
		return p, ref, func() {}, nil
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
