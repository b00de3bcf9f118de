package oci_test

import (
	"errors"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/registryname"
)

const testDigest = "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"

func TestParseReference(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    registry.Reference
		wantErr error
		errText string // substring the error must contain
	}{
		{name: "tag", in: "example.azurecr.io/app:v1",
			want: registry.Reference{Registry: "example.azurecr.io", Repository: "app", Reference: "v1"}},
		{name: "digest", in: "example.com/team/app@" + testDigest,
			want: registry.Reference{Registry: "example.com", Repository: "team/app", Reference: testDigest}},
		{name: "tag and digest", in: "example.com/app:v1@" + testDigest,
			want: registry.Reference{Registry: "example.com", Repository: "app", Reference: testDigest}},
		{name: "no tag", in: "example.com/app",
			want: registry.Reference{Registry: "example.com", Repository: "app"}},
		{name: "port", in: "127.0.0.1:5000/app:v1",
			want: registry.Reference{Registry: "127.0.0.1:5000", Repository: "app", Reference: "v1"}},
		{name: "localhost", in: "localhost/app:v1",
			want: registry.Reference{Registry: "localhost", Repository: "app", Reference: "v1"}},
		{name: "ipv6", in: "[::1]:5000/app:v1",
			want: registry.Reference{Registry: "[::1]:5000", Repository: "app", Reference: "v1"}},

		{name: "short name", in: "nginx", wantErr: oci.ErrNoRegistry, errText: "has no registry: write it in full"},
		{name: "short name with tag", in: "nginx:1.27", wantErr: oci.ErrNoRegistry},
		{name: "docker hub path", in: "library/nginx:1.27", wantErr: oci.ErrNoRegistry},
		{name: "empty", in: "", wantErr: oci.ErrInvalidReference},
		{name: "scheme", in: "https://example.com/app:v1", wantErr: oci.ErrInvalidReference, errText: "URL scheme"},
		{name: "space", in: "example.com/app :v1", wantErr: oci.ErrInvalidReference},
		{name: "uppercase repository", in: "example.com/App:v1", wantErr: oci.ErrInvalidReference, errText: "repository"},
		{name: "bad tag", in: "example.com/app:-v1", wantErr: oci.ErrInvalidReference},
		{name: "bad tag beside digest", in: "example.com/app:-v1@" + testDigest, wantErr: oci.ErrInvalidReference, errText: "invalid tag"},
		{name: "bad digest", in: "example.com/app@sha256:abc", wantErr: oci.ErrInvalidReference},
		{name: "no repository", in: "example.com/", wantErr: oci.ErrInvalidReference},
		{name: "too long", in: "example.com/" + strings.Repeat("a", 5000), wantErr: oci.ErrInvalidReference, errText: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oci.ParseReference(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseReference(%q) error = %v, want %v", tt.in, err, tt.wantErr)
				}
				if !errors.Is(err, oci.ErrInvalidReference) {
					t.Errorf("ParseReference(%q) error = %v, want it to match ErrInvalidReference too", tt.in, err)
				}
				if !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("ParseReference(%q) error = %q, want it to contain %q", tt.in, err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseReference(%q) error = %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseReference(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"example.com/app:v1",
		"example.com/team/app@" + testDigest,
		"example.com/app:v1@" + testDigest,
		"localhost:5000/a/b/c",
		"[::1]:5000/app",
		"nginx",
		"library/nginx:latest",
		"https://example.com/app",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := oci.ParseReference(s)
		if err != nil {
			if !errors.Is(err, oci.ErrInvalidReference) {
				t.Fatalf("ParseReference(%q) error = %v, does not match ErrInvalidReference", s, err)
			}
			return
		}
		if ref.Registry == "" || ref.Repository == "" {
			t.Fatalf("ParseReference(%q) = %+v, want registry and repository", s, ref)
		}
		if err := ref.Validate(); err != nil {
			t.Fatalf("ParseReference(%q) = %+v, which oras-go finds invalid: %v", s, ref, err)
		}
		if !registryname.ValidHost(ref.Registry) {
			t.Fatalf("ParseReference(%q) = %+v, whose registry is not a host name", s, ref)
		}
		// The parsed form parses back to itself.
		again, err := oci.ParseReference(ref.String())
		if err != nil {
			t.Fatalf("ParseReference(%q) error = %v on the round trip of %q", ref.String(), err, s)
		}
		if again != ref {
			t.Fatalf("round trip of %q: %+v, want %+v", s, again, ref)
		}
	})
}
