package oci_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// tokenRegistry fronts a registry with the token authentication of the
// distribution registry (docs/spec/auth/token.md): a request without the
// token of its repository is answered 401 with a Bearer challenge naming
// the token service (here on the registry's own host, as Harbor's is) and
// the repository's scope; the token service hands out a token per scope.
type tokenRegistry struct {
	host string
	mu   sync.Mutex
	log  []string // "METHOD PATH STATUS" of every request, token requests included
}

func newTokenRegistry(t *testing.T, backend string) *tokenRegistry {
	t.Helper()
	tr := &tokenRegistry{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			tr.mu.Lock()
			tr.log = append(tr.log, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, rec.status))
			tr.mu.Unlock()
		}()
		if r.URL.Path == "/service/token" {
			scope := r.URL.Query().Get("scope")
			if r.URL.Query().Get("service") != "test-registry" || !strings.HasPrefix(scope, "repository:") {
				http.Error(rec, "bad token request", http.StatusBadRequest)
				return
			}
			rec.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(rec, `{"token":%q}`, "token-for-"+scope)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/v2/")
		for _, kind := range []string{"/manifests/", "/blobs/", "/referrers/", "/tags/"} {
			if i := strings.LastIndex(name, kind); i > 0 {
				name = name[:i]
			}
		}
		scope := "repository:" + name + ":pull"
		if r.Header.Get("Authorization") != "Bearer token-for-"+scope {
			rec.Header().Set("Www-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/service/token",service="test-registry",scope=%q`, r.Host, scope))
			http.Error(rec, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(rec, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = hostOf(srv)
	return tr
}

func (tr *tokenRegistry) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.log
	tr.log = nil
	return out
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// TestNewRepositoryCostsOneTokenRequest: on a registry with token
// authentication, the first read of a repository not seen before costs one
// request more than a known one, the token request, not two (the 401 that
// names the token service, then the token request): the registry's
// challenge is the same for all its repositories. The first contact with
// the registry still meets the 401.
func TestNewRepositoryCostsOneTokenRequest(t *testing.T) {
	backend := startRegistry(t, false)
	for _, name := range []string{"app1", "app2", "team/app3"} {
		pushImage(t, backend, name, "v1", name)
	}
	reg := newTokenRegistry(t, backend)
	c := newClient(t, oci.Options{})
	for _, tc := range []struct {
		repo string
		want []string
	}{
		{"app1", []string{"HEAD /v2/app1/manifests/v1 401", "GET /service/token 200", "HEAD /v2/app1/manifests/v1 200"}},
		{"app2", []string{"GET /service/token 200", "HEAD /v2/app2/manifests/v1 200"}},
		{"team/app3", []string{"GET /service/token 200", "HEAD /v2/team/app3/manifests/v1 200"}},
		{"app1", []string{"HEAD /v2/app1/manifests/v1 200"}},
	} {
		if _, err := c.Resolve(t.Context(), reg.host+"/"+tc.repo+":v1"); err != nil {
			t.Fatalf("%s: %v", tc.repo, err)
		}
		if got := reg.take(); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: requests\n%s\nwant\n%s", tc.repo, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}
