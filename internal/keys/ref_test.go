package keys

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	tests := []struct {
		in      string
		want    Ref
		wantErr string // substring; "" means success
	}{
		{in: "release", want: Ref{Name: "release"}},
		{in: "release/3", want: Ref{Name: "release", Version: "3"}},
		{in: "Team_A.sign-1/0a1b2c3d4e5f", want: Ref{Name: "Team_A.sign-1", Version: "0a1b2c3d4e5f"}},
		{in: strings.Repeat("a", 127), want: Ref{Name: strings.Repeat("a", 127)}},
		{in: "", wantErr: "is empty"},
		{in: strings.Repeat("a", 128), wantErr: "longer than 127"},
		{in: ".hidden", wantErr: "must start with a letter or digit"},
		{in: "-flag", wantErr: "must start with a letter or digit"},
		{in: "a b", wantErr: `has ' ' at position 2`},
		{in: "release/", wantErr: "version"},
		{in: "release/1/2", wantErr: `has '/'`},
		{in: "/1", wantErr: "is empty"},
		{in: "ключ", wantErr: "must start with a letter or digit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidRef) {
					t.Fatalf("ParseRef(%q) = %v, %v; want ErrInvalidRef containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRef(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String() = %q; want %q", s, tt.in)
			}
		})
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"a", "a/1", "a/b/c", "", ".x", "a/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRef) {
				t.Fatalf("error %v does not wrap ErrInvalidRef", err)
			}
			return
		}
		if r.String() != s {
			t.Fatalf("ParseRef(%q).String() = %q", s, r.String())
		}
		if err := ValidateName(r.Name); err != nil {
			t.Fatalf("accepted name %q fails ValidateName: %v", r.Name, err)
		}
	})
}
