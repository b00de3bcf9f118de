package kvurl

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct{ in, vault, name, version string }{
		{"https://kv.vault.azure.net/certificates/brooklyn", "https://kv.vault.azure.net", "brooklyn", ""},
		{"https://kv.vault.azure.net/keys/brooklyn/0123456789abcdef0123456789abcdef/", "https://kv.vault.azure.net", "brooklyn", "0123456789abcdef0123456789abcdef"},
		{"http://kv.vault.azure.net/certificates/a", "", "", ""},
		{"https://kv.vault.azure.net/secrets/a", "", "", ""},
		{"https://kv.vault.azure.net/certificates/a/b/c", "", "", ""},
		{"https://kv.vault.azure.net/certificates/a?x=1", "", "", ""},
		{"https://kv.vault.azure.net/certificates/-a", "", "", ""},
	} {
		vault, ref, err := ParseURL(tc.in)
		if (err == nil) != (tc.vault != "") || vault != tc.vault || ref.Name != tc.name || ref.Version != tc.version {
			t.Errorf("ParseURL(%q) = %q %+v %v", tc.in, vault, ref, err)
		}
	}
}

func TestIsKeyURL(t *testing.T) {
	for in, want := range map[string]bool{
		"https://kv.vault.azure.net/keys/signer":                 true,
		"https://kv.vault.azure.net/keys/signer/0123":            true,
		"HTTPS://kv.vault.azure.net//keys/signer":                true,
		"https://kv.vault.azure.net/certificates/signer":         false,
		"https://kv.vault.azure.net/keysigner":                   false,
		"signer":                                                 false,
		"pkcs11:token=t;object=keys/x":                           false,
		"https://kv.vault.azure.net/certificates/keys/signer":    false,
		"https://kv.vault.azure.net/keys/signer?api-version=7.4": true, // ParseURL refuses it
	} {
		if got := IsKeyURL(in); got != want {
			t.Errorf("IsKeyURL(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzParseURL: key URLs come from the command line.
func FuzzParseURL(f *testing.F) {
	f.Add("https://kv.vault.azure.net/certificates/brooklyn/0123")
	f.Fuzz(func(t *testing.T, s string) {
		vault, ref, err := ParseURL(s)
		if err != nil {
			return
		}
		if !IsURL(vault) || ref.Name == "" {
			t.Fatalf("ParseURL(%q) = %q %+v", s, vault, ref)
		}
		// A parsed keys URL is one IsKeyURL sees, so cosign reads it with
		// the keys API.
		if strings.Contains(s, "/keys/") && !strings.Contains(s, "/certificates/") && !IsKeyURL(s) {
			t.Fatalf("ParseURL(%q) parsed a keys URL IsKeyURL does not see", s)
		}
	})
}
