package demo

import "testing"

func TestShortRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:5000/net-monitor@sha256:63ed899dbc8e15d76a2a8a15e85d97031181f633075cf8ef09145fd5b1149401", "127.0.0.1:5000/net-monitor@sha256:63ed899dbc8e..."},
		{"127.0.0.1:5000/net-monitor:v2", "127.0.0.1:5000/net-monitor:v2"},
		{"host/repo@sha256:abc", "host/repo@sha256:abc"},
	} {
		if got := shortRef(tc.in); got != tc.want {
			t.Errorf("shortRef(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/tmp/hallmark-demo-123", "/tmp/hallmark-demo-123"},
		{"/Users/a b/x", "'/Users/a b/x'"},
		{"it's", `'it'\''s'`},
		{"", "''"},
	} {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("shellQuote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
