package registryname

import "testing"

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
