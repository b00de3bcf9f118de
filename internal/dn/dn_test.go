package dn

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    []Attribute
		wantErr string
	}{
		{in: "CN=builder,O=Acme,ST=WA,C=US", want: []Attribute{{"CN", "builder"}, {"O", "Acme"}, {"ST", "WA"}, {"C", "US"}}},
		{in: " C = US , S = WA ", want: []Attribute{{"C", "US"}, {"ST", "WA"}}},
		{in: `CN=Acme\, Inc.,O=x\2B`, want: []Attribute{{"CN", "Acme, Inc."}, {"O", "x+"}}},
		{in: `CN=caf\C3\A9`, want: []Attribute{{"CN", "café"}}},
		{in: "2.5.4.3=x", want: []Attribute{{"2.5.4.3", "x"}}},
		{in: "", wantErr: "is empty"},
		{in: "  ", wantErr: "is empty"},
		{in: "CN=#0403616263", wantErr: "hex-encoded"},
		{in: "CN=a+O=b", wantErr: "multi-valued RDN"},
		{in: "OU=a,OU=b", wantErr: "repeats the OU attribute"},
		{in: "ST=a,S=b", wantErr: "repeats the ST attribute"},
		{in: "CN", wantErr: "is not a valid distinguished name (DN ended with incomplete type, value pair)"},
		{in: "CN=a,,O=b", wantErr: "is not a valid distinguished name (incomplete type, value pair)"},
		{in: `CN=a\zz`, wantErr: "is not a valid distinguished name (failed to decode escaped character"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				if strings.Contains(tt.wantErr, "not a valid") != errors.Is(err, ErrSyntax) {
					t.Fatalf("errors.Is(%v, ErrSyntax) = %v", err, errors.Is(err, ErrSyntax))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// format writes attributes back as RFC 4514 with every byte that is not a
// letter or digit hex-escaped, the one form that needs no judgement.
func format(attrs []Attribute) string {
	esc := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, `\%02X`, c)
			}
		}
		return b.String()
	}
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		parts[i] = esc(a.Type) + "=" + esc(a.Value)
	}
	return strings.Join(parts, ",")
}

// FuzzParse: a name Parse accepts, written back in escaped form, parses to
// the same attributes (a round trip through the grammar).
func FuzzParse(f *testing.F) {
	for _, s := range []string{"CN=a,O=b,C=US", `CN=q\,x,O=\2C`, "CN=a+OU=b", "OU=a,S=b", "2.5.4.3=x", `CN=\C3\A9`, " C = US "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		attrs, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(format(attrs))
		if err != nil {
			t.Fatalf("Parse(%q) = %v, but its written form %q fails: %v", s, attrs, format(attrs), err)
		}
		if !slices.Equal(attrs, again) {
			t.Fatalf("Parse(%q) = %v; written as %q it reads %v", s, attrs, format(attrs), again)
		}
	})
}
