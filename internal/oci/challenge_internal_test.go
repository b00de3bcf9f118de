package oci

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRepositoryRead(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		name         string
		ok           bool
	}{
		{"HEAD", "/v2/app/manifests/v1", "app", true},
		{"GET", "/v2/team/app/manifests/sha256:abc", "team/app", true},
		{"GET", "/v2/team/app/blobs/sha256:abc", "team/app", true},
		{"GET", "/v2/app/referrers/sha256:abc", "app", true},
		{"GET", "/v2/app/tags/list", "app", true},
		{"GET", "/v2/manifests/x/manifests/v1", "manifests/x", true},
		{"PUT", "/v2/app/manifests/v1", "", false},              // a write
		{"POST", "/v2/app/blobs/uploads/", "", false},           // a write
		{"GET", "/v2/", "", false},                              // the ping
		{"GET", "/service/token", "", false},                    // a token service
		{"GET", "/v2/token", "", false},                         // not a repository path
		{"GET", "/v2//manifests/v1", "", false},                 // no name
		{"GET", "/v2/tags/list", "", false},                     // no name
		{"GET", "/oauth2/token/v2/app/manifests/v1", "", false}, // not under /v2/
	} {
		req := &http.Request{Method: tc.method, URL: &url.URL{Path: tc.path}}
		name, ok := repositoryRead(req)
		if name != tc.name || ok != tc.ok {
			t.Errorf("%s %s: %q, %v; want %q, %v", tc.method, tc.path, name, ok, tc.name, tc.ok)
		}
	}
}

func TestBearerChallenge(t *testing.T) {
	for _, tc := range []struct {
		header, want string
		ok           bool
	}{
		{`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app:pull"`,
			`Bearer realm="https://auth.example/token",service="registry.example"`, true},
		{`bearer realm="r", scope="repository:a:pull", error="invalid_token"`, `Bearer realm="r"`, true},
		{`Bearer realm="https://auth.example/token",scope="repository:a:pull,push",service="reg"`,
			`Bearer realm="https://auth.example/token",service="reg"`, true},
		{`Bearer realm="https://auth.example/t?a=1,b=2",service="reg"`, `Bearer realm="https://auth.example/t?a=1,b=2",service="reg"`, true},
		{`Bearer realm="a\",scope=x",service="reg"`, `Bearer realm="a\",scope=x",service="reg"`, true},
		{`Basic realm="r"`, "", false},
		{`Bearer`, "", false},
		{`Bearer scope="repository:a:pull"`, "", false},
		{``, "", false},
		{`Bearer ,,`, "", false},
	} {
		got, ok := bearerChallenge(tc.header)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%q: %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

// FuzzBearerChallenge: what bearerChallenge keeps is a Bearer challenge
// without a scope or error parameter, and keeping it again changes nothing.
func FuzzBearerChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.example/token",service="registry.example",scope="repository:app:pull"`)
	f.Add(`Bearer realm="r",error="invalid_token"`)
	f.Add(`Basic realm="r"`)
	f.Fuzz(func(t *testing.T, header string) {
		got, ok := bearerChallenge(header)
		if !ok {
			return
		}
		if !strings.HasPrefix(got, "Bearer ") {
			t.Fatalf("%q: kept %q", header, got)
		}
		for _, p := range splitParams(strings.TrimPrefix(got, "Bearer ")) {
			k, _, _ := strings.Cut(p, "=")
			if k = strings.TrimSpace(k); strings.EqualFold(k, "scope") || strings.EqualFold(k, "error") {
				t.Fatalf("%q: kept %q, with a %s parameter", header, got, k)
			}
		}
		again, ok := bearerChallenge(got)
		if !ok || again != got {
			t.Fatalf("%q: kept %q, then %q, %v", header, got, again, ok)
		}
	})
}

// TestChallengerForgets: a registry that turns away a request made with a
// token, or answers with another scheme, is asked again from the network;
// writes and requests with a token are never answered by the challenger.
func TestChallengerForgets(t *testing.T) {
	var sent int
	answer := func(status int, challenge string) roundTripFunc {
		return func(r *http.Request) (*http.Response, error) {
			sent++
			h := http.Header{}
			if challenge != "" {
				h.Set("Www-Authenticate", challenge)
			}
			return &http.Response{StatusCode: status, Header: h, Body: http.NoBody, Request: r}, nil
		}
	}
	c := &challenger{}
	do := func(method, path, authz string) *http.Response {
		req, _ := http.NewRequest(method, "http://reg.example"+path, nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := c.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	c.base = answer(http.StatusUnauthorized, `Bearer realm="https://auth.example/token",service="reg"`)
	do("HEAD", "/v2/a/manifests/v1", "")
	sent = 0
	if r := do("HEAD", "/v2/b/manifests/v1", ""); r.StatusCode != http.StatusUnauthorized || sent != 0 ||
		r.Header.Get("Www-Authenticate") != `Bearer realm="https://auth.example/token",service="reg",scope="repository:b:pull"` {
		t.Fatalf("a read of a new repository: %d, %q, %d sent", r.StatusCode, r.Header.Get("Www-Authenticate"), sent)
	}
	for _, tc := range []struct{ method, path, authz string }{
		{"PUT", "/v2/b/manifests/v1", ""},
		{"HEAD", "/v2/b/manifests/v1", "Bearer t"},
	} {
		sent = 0
		do(tc.method, tc.path, tc.authz)
		if sent != 1 {
			t.Errorf("%s %s with %q was not sent", tc.method, tc.path, tc.authz)
		}
	}
	// The token of the last request above was turned away: forgotten.
	sent = 0
	c.base = answer(http.StatusOK, "")
	do("HEAD", "/v2/c/manifests/v1", "")
	if sent != 1 {
		t.Fatal("after a token was turned away, a read was still answered by the challenger")
	}
	// Learned again, then a Basic challenge: forgotten.
	c.base = answer(http.StatusUnauthorized, `Bearer realm="r"`)
	do("HEAD", "/v2/a/manifests/v1", "")
	c.base = answer(http.StatusUnauthorized, `Basic realm="r"`)
	do("HEAD", "/v2/a/manifests/v1", "Basic x")
	sent = 0
	do("HEAD", "/v2/d/manifests/v1", "")
	if sent != 1 {
		t.Fatal("after a Basic challenge, a read was still answered by the challenger")
	}
}
