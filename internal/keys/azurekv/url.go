package azurekv

import (
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
)

// IsURL reports whether a key argument is an https URL (a vault object)
// rather than a key name (kvurl.IsURL, which links no Azure SDK).
func IsURL(s string) bool { return kvurl.IsURL(s) }

// ParseURL splits a vault object URL into the vault URL and the key
// reference (kvurl.ParseURL).
func ParseURL(s string) (vault string, ref keys.Ref, err error) { return kvurl.ParseURL(s) }
