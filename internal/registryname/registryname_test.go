package registryname

import (
	"regexp"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry"
)

func TestCanonicalRepository(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"registry.example.com/app", "registry.example.com/app", true},
		{"Registry.example.com:443/app", "registry.example.com/app", true},
		{"index.docker.io/nginx", "docker.io/library/nginx", true},
		{"registry.example.com/app:v1", "", false},
		{"nginx", "", false},
	}
	for _, tt := range tests {
		got, ok := CanonicalRepository(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("CanonicalRepository(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// FuzzCanonicalHost: host canonicalization is idempotent, so a canonical
// name is never canonicalized into another one.
func FuzzCanonicalHost(f *testing.F) {
	for _, s := range []string{"Registry.Example.com:443", "index.docker.io", "[0::1]:05000", "localhost.", "docker.io:443", ":::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if h := CanonicalHost(s); CanonicalHost(h) != h {
			t.Fatalf("CanonicalHost(%q) = %q, but CanonicalHost(%q) = %q", s, h, h, CanonicalHost(h))
		}
	})
}

func TestIsDigest(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		in   string
		want bool
	}{
		{"sha256:" + hex, true},
		{"sha256:" + strings.ToUpper(hex), false},
		{"sha256:" + hex[1:], false},
		{"sha256:" + hex + "0", false},
		{"sha256:" + hex[1:] + "g", false},
		{"SHA256:" + hex, false},
		{"sha256" + hex, false},
		{"v1.2", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsDigest(tt.in); got != tt.want {
			t.Errorf("IsDigest(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// FuzzIsDigest: IsDigest agrees with oras-go's ValidateReferenceAsDigest
// (go-digest) on every input, including the sha256 ones it recognises on
// its own.
func FuzzIsDigest(f *testing.F) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for _, s := range []string{"sha256:" + hex, "sha256:" + strings.ToUpper(hex), "sha512:" + hex + hex, "sha256:" + hex[:63] + "-", "v1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := (registry.Reference{Reference: s}).ValidateReferenceAsDigest() == nil
		if got := IsDigest(s); got != want {
			t.Fatalf("IsDigest(%q) = %v, go-digest says %v", s, got, want)
		}
		if isSHA256Digest(s) && !want {
			t.Fatalf("isSHA256Digest(%q) accepts what go-digest refuses", s)
		}
	})
}

func TestValidHost(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"registry.example.com", true},
		{"Registry.Example.com:5000", true},
		{"localhost", true},
		{"localhost:5000", true},
		{"127.0.0.1:5000", true},
		{"[::1]", true},
		{"[::1]:5000", true},
		{"a-b.c", true},
		{strings.Repeat("a", 63) + ".io", true},
		{"", false},
		{".", false},
		{"..", false},
		{".example.com", false},
		{"a..b", false},
		{"example.com.", false}, // canonical form drops the dot first
		{"-a.com", false},
		{"a-.com", false},
		{"a_b.com", false},
		{strings.Repeat("a", 64) + ".io", false},
		{strings.Repeat("a.", 127) + "io", false}, // 256 bytes
		{"example.com:", false},
		{"example.com:123456", false},
		{"example.com:5x", false},
		{"a:b:5000", false},
		{"[::1", false},
		{"[::1]5000", false},
		{"[::1]:", false},
		{"[1.2.3.4]", false},
		{"[fe80::1%eth0]", false},
		{"[]", false},
	}
	for _, tt := range tests {
		if got := ValidHost(tt.in); got != tt.ok {
			t.Errorf("ValidHost(%q) = %v, want %v", tt.in, got, tt.ok)
		}
	}
}

// hostGrammar is the distribution reference grammar's domain and port
// (reference/regexp.go), the model ValidHost narrows: it adds the DNS
// lengths, a port of at most five digits and a parseable IPv6 address.
var hostGrammar = regexp.MustCompile(`^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?$`)

// FuzzValidHost: a valid host is one the distribution grammar takes, stays
// valid in canonical form, and a short one the grammar takes, with a short
// port and no IPv6 address, is valid.
func FuzzValidHost(f *testing.F) {
	for _, s := range []string{"registry.example.com:5000", "[::1]:5000", ".", "a..b", "-a.b", "localhost"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		valid, grammar := ValidHost(s), hostGrammar.MatchString(s)
		if valid && !grammar {
			t.Fatalf("ValidHost(%q) = true, but the distribution grammar refuses it", s)
		}
		if valid && !ValidHost(CanonicalHost(s)) {
			t.Fatalf("ValidHost(%q) = true, but not its canonical form %q", s, CanonicalHost(s))
		}
		_, port := SplitHostPort(s)
		if grammar && !valid && len(s) <= 63 && len(port) <= 5 && !strings.HasPrefix(s, "[") {
			t.Fatalf("ValidHost(%q) = false, but the distribution grammar takes it", s)
		}
	})
}
