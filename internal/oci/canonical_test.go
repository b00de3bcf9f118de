package oci

import (
	"errors"
	"github.com/hallmark-dev/hallmark/internal/registryname"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/credentials"
)

func TestCanonicalReference(t *testing.T) {
	d := plainDigestValue
	tests := []struct{ in, want string }{
		{"registry.example.com/app:v1", "registry.example.com/app:v1"},
		{"REGISTRY.Example.com/app:v1", "registry.example.com/app:v1"},
		{"registry.example.com:443/app:v1", "registry.example.com/app:v1"},
		{"registry.example.com:0443/app:v1", "registry.example.com/app:v1"},
		{"registry.example.com:/app:v1", "registry.example.com/app:v1"},
		{"registry.example.com./app:v1", "registry.example.com/app:v1"},
		{"registry.example.com:05000/app:v1", "registry.example.com:5000/app:v1"},
		{"registry.example.com:80/app:v1", "registry.example.com:80/app:v1"},
		{"LOCALHOST:5000/app@" + d, "localhost:5000/app@" + d},
		{"[0:0::1]:5000/app:v1", "[::1]:5000/app:v1"},
		{"[::1]:443/app:v1", "[::1]/app:v1"},
		{"docker.io/library/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"docker.io/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"index.docker.io/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"registry-1.docker.io/library/nginx:1.27", "docker.io/library/nginx:1.27"},
		{"Index.Docker.IO:443/team/app:v1", "docker.io/team/app:v1"},
		{"docker.io:443/nginx@" + d, "docker.io/library/nginx@" + d},
		{"docker.io:5000/nginx:v1", "docker.io:5000/nginx:v1"},
		{"registry.example.com/nginx:v1", "registry.example.com/nginx:v1"},
	}
	for _, tt := range tests {
		r, err := ParseReference(tt.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", tt.in, err)
			continue
		}
		if got := registryname.CanonicalString(r); got != tt.want {
			t.Errorf("ParseReference(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestPlainHTTPDefaultPort: a registry reached over plain HTTP is one
// registry whether written with ":80" or without, so the client refuses the
// spelling with ":80", which would otherwise be matched to trust-policy
// statements, cache entries and exemptions apart from the canonical one.
func TestPlainHTTPDefaultPort(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		ref     string
		refused bool
	}{
		{"plain HTTP for every host", Options{PlainHTTP: true}, "registry.example:80/app:v1", true},
		{"plain HTTP for both spellings", Options{Hosts: []HostSettings{{Patterns: []string{"registry.example", "registry.example:80"}, PlainHTTP: true}}}, "registry.example:80/app:v1", true},
		{"plain HTTP for :80 only", Options{Hosts: []HostSettings{{Patterns: []string{"registry.example:80"}, PlainHTTP: true}}}, "registry.example:80/app:v1", false},
		{"HTTPS", Options{}, "registry.example:80/app:v1", false},
		{"plain HTTP, other port", Options{PlainHTTP: true}, "registry.example:5000/app:v1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.CredentialsStore = credentials.NewMemoryStore()
			c, err := New(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.parseWithReference(tt.ref)
			if refused := errors.Is(err, ErrInvalidReference); refused != tt.refused {
				t.Fatalf("parse(%q) error = %v; want refused %v", tt.ref, err, tt.refused)
			}
			if tt.refused && !strings.Contains(err.Error(), "write registry.example without \":80\"") {
				t.Errorf("error %q does not say how to write the reference", err)
			}
		})
	}
}

// FuzzCanonical: canonical form is a fixed point (parsing a reference's
// canonical form gives the same reference), so nothing keyed by the
// canonical name can be reached under two names; and registryname reads a
// repository name as the client does.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		"Registry.Example.com:443/app:v1",
		"index.docker.io/nginx@" + plainDigestValue,
		"[0::1]:05000/a/b",
		"localhost./x:y",
		"docker.io:443/team/app",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		if r.Reference == "" {
			// The configuration checks trust-policy scopes with
			// registryname alone: it must read them as the client does.
			if c, ok := registryname.CanonicalRepository(s); !ok || c != r.Registry+"/"+r.Repository {
				t.Fatalf("registryname.CanonicalRepository(%q) = %q, %v; the client reads %s/%s", s, c, ok, r.Registry, r.Repository)
			}
		}
		c := registryname.CanonicalString(r)
		again, err := ParseReference(c)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", c, s, err)
		}
		if again != r {
			t.Fatalf("canonical form %q of %q parses as %+v, not %+v", c, s, again, r)
		}
	})
}
