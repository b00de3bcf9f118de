// Package kvurl parses Azure Key Vault object URLs, the references hallmark
// takes for keys in a vault, apart from the provider (keys/azurekv) so that
// checking a configuration that names one links no Azure SDK.
package kvurl

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// IsURL reports whether a key argument is an https URL (a vault object)
// rather than a key name; key names cannot contain ':'.
func IsURL(s string) bool { return strings.HasPrefix(strings.ToLower(s), "https://") }

// IsKeyURL reports whether s is a vault URL of the keys API
// (https://VAULT/keys/NAME[/VERSION]): for cosign keys it names the key
// itself, which need not have a certificate.
func IsKeyURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && IsURL(s) && strings.HasPrefix(strings.Trim(u.Path, "/"), "keys/")
}

// ParseURL splits a vault object URL, as notation's azure-kv plugin takes
// for --id, into the vault URL and the key reference:
//
//	https://NAME.vault.azure.net/certificates/CERT[/VERSION]
//	https://NAME.vault.azure.net/keys/CERT[/VERSION]
//
// A key URL names the certificate of the same name, which is how the vault
// pairs them.
func ParseURL(s string) (vault string, ref keys.Ref, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", keys.Ref{}, fmt.Errorf("%w: %q is not an Azure Key Vault URL (https://VAULT.vault.azure.net/certificates/NAME[/VERSION])", keys.ErrInvalidRef, strict.Clip(s))
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) < 2 || len(parts) > 3 || (parts[0] != "certificates" && parts[0] != "keys") {
		return "", keys.Ref{}, fmt.Errorf("%w: %q: the path must be /certificates/NAME or /certificates/NAME/VERSION", keys.ErrInvalidRef, strict.Clip(s))
	}
	ref.Name = parts[1]
	if err := keys.ValidateName(ref.Name); err != nil {
		return "", keys.Ref{}, err
	}
	if len(parts) == 3 {
		ref.Version = parts[2]
		if _, err := keys.ParseRef(ref.String()); err != nil {
			return "", keys.Ref{}, err
		}
	}
	return "https://" + u.Host, ref, nil
}
