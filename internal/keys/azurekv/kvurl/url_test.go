package kvurl

import (
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
	})
}
