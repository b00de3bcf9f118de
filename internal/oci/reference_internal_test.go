package oci

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/registryname"
	"oras.land/oras-go/v2/registry"
)

// tagPattern is the distribution spec's tag grammar as a regular
// expression: the reference ValidTag is checked against.
var tagPattern = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)

const plainDigestValue = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// parseFull is ParseReference without the plain fast path.
func parseFull(t *testing.T, s string) (registry.Reference, bool) {
	t.Helper()
	if len(s) > maxReferenceLength || strings.Contains(s, "://") || strings.ContainsFunc(s, isSpaceOrControl) {
		return registry.Reference{}, false
	}
	first, rest, found := strings.Cut(s, "/")
	if !found || !looksLikeHost(first) {
		return registry.Reference{}, false
	}
	ref, err := registry.ParseReference(s)
	if err != nil || !registryname.ValidHost(registryname.CanonicalHost(ref.Registry)) {
		return registry.Reference{}, false
	}
	if name, _, hasDigest := strings.Cut(rest, "@"); hasDigest {
		if i := strings.Index(name, ":"); i >= 0 && !tagPattern.MatchString(name[i+1:]) {
			return registry.Reference{}, false
		}
	}
	return ref, true
}

func TestParsePlain(t *testing.T) {
	tests := []struct {
		in    string
		plain bool // taken by the fast path
		valid bool // accepted by ParseReference at all
	}{
		{"example.com/app:v1", true, true},
		{"example.com/app", true, true},
		{"localhost/app", true, true},
		{"localhost:5000/team/app@" + plainDigestValue, true, true},
		{"127.0.0.1:5000/a/b/c:v1.2-rc_3@" + plainDigestValue, true, true},
		{"example.com/a.b/c__d/e---f/g_h:V1", true, true},
		{"registry-1.docker.io/library/nginx:1.27", true, true},
		// Valid, but left to the full parse.
		{"[::1]:5000/app", false, true},
		{"Example.com/app", false, true},
		{"example.com/app@sha512:" + strings.Repeat("a", 128), false, true},
		// Invalid: never taken by the fast path.
		{"example.com/App", false, false},
		{"example.com/a..b", false, false},
		{"example.com/a___b", false, false},
		{"example.com/-a", false, false},
		{"example.com/a-", false, false},
		{"example.com/a//b", false, false},
		{"example.com/", false, false},
		{"example.com/app:", false, true}, // oras-go reads an empty tag as none
		{"example.com/app:.v1", false, false},
		{"example.com/app:a:b@" + plainDigestValue, false, false},
		{"example.com/app@sha256:ABC", false, false},
		{"example.com/app@sha256:" + strings.Repeat("A", 64), false, false},
		{"example.com:/app", false, true}, // the URL parser allows an empty port, dropped
		// Hosts the URL parser takes and the distribution grammar does not,
		// nor the container runtime.
		{"example.com:123456/app", false, false},
		{"./app", false, false},
		{".:5000/app", false, false},
		{"a..b/app", false, false},
		{"-a.b/app", false, false},
		{"a-.b:5000/app", false, false},
		{"a_b.c/app", false, false},
		{"app/name", false, false},
		{"nginx", false, false},
	}
	for _, tt := range tests {
		_, plain := parsePlain(tt.in)
		_, err := ParseReference(tt.in)
		if plain != tt.plain || (err == nil) != tt.valid {
			t.Errorf("%q: plain %v, ParseReference error %v; want plain %v, valid %v", tt.in, plain, err, tt.plain, tt.valid)
		}
	}
}

// FuzzParsePlain: the fast path accepts only what the full parse accepts,
// and parses it the same way.
func FuzzParsePlain(f *testing.F) {
	for _, s := range []string{
		"example.com/app:v1",
		"localhost:5000/team/app:v1@" + plainDigestValue,
		"example.com/a__b/c-d/e.f",
		"a.b/c:D",
		"x.y:1/a",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidTag(s) != tagPattern.MatchString(s) {
			t.Fatalf("ValidTag(%q) = %v, the tag grammar says %v", s, ValidTag(s), !ValidTag(s))
		}
		if len(s) > maxReferenceLength {
			// ParseReference refuses longer input before parsePlain sees
			// it; the model below refuses it for that reason alone.
			return
		}
		got, ok := parsePlain(s)
		if !ok {
			return
		}
		want, valid := parseFull(t, s)
		if !valid {
			t.Fatalf("parsePlain(%q) = %+v, but the full parse refuses it", s, got)
		}
		if got != want {
			t.Fatalf("parsePlain(%q) = %+v, the full parse %+v", s, got, want)
		}
	})
}
