package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
)

// basicAuthRegistry is the embedded registry behind HTTP basic auth, as
// registries with htpasswd have it; it counts the requests it refused.
func basicAuthRegistry(t *testing.T, user, pass string) (host string, refused *atomic.Int32) {
	t.Helper()
	reg, err := devregistry.Start(context.Background(), devregistry.Options{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	backend, _ := url.Parse("http://" + reg.Host())
	proxy := httputil.NewSingleHostReverseProxy(backend)
	refused = &atomic.Int32{}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	host = strings.TrimPrefix(front.URL, "http://")
	if _, err := devregistry.PushSampleImage(context.Background(), reg.Host(), "app", "v1", "credentials"); err != nil {
		t.Fatal(err)
	}
	return host, refused
}

// TestCredentialsWithoutLogin: -u with --password-stdin, or
// $HALLMARK_USERNAME and $HALLMARK_PASSWORD, reach a registry that needs
// them, in sign, verify, ls and inspect, and nothing is stored.
func TestCredentialsWithoutLogin(t *testing.T) {
	env, _ := trustEnv(t)
	host, _ := basicAuthRegistry(t, "ci", "s3cret")
	ref := host + "/app:v1"
	mustRun(t, env, "key", "create", "rel", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC")
	mustRun(t, env, "policy", "init", "--key", "rel")

	if _, stderr, code := run(t, env, "ls", ref, "--plain-http"); code != ExitFailure {
		t.Fatalf("ls without credentials: exit %d\n%s", code, stderr)
	}
	if _, stderr, code := runIn(t, env, "s3cret\n", "sign", ref, "--key", "rel", "--plain-http", "-u", "ci", "--password-stdin"); code != 0 {
		t.Fatalf("sign -u --password-stdin: exit %d\n%s", code, stderr)
	}
	withEnv := map[string]string{"HALLMARK_USERNAME": "ci", "HALLMARK_PASSWORD": "s3cret"}
	for k, v := range env {
		withEnv[k] = v
	}
	for _, args := range [][]string{
		{"ls", ref, "--plain-http"},
		{"inspect", ref, "--plain-http"},
		{"verify", ref, "--plain-http"},
	} {
		if stdout, stderr, code := run(t, withEnv, args...); code != 0 {
			t.Errorf("%s with $HALLMARK_USERNAME and $HALLMARK_PASSWORD: exit %d\n%s%s", args[0], code, stdout, stderr)
		}
	}
	t.Setenv("HALLMARK_USERNAME", "")
	t.Setenv("HALLMARK_PASSWORD", "")
	for _, tc := range []usageCase{
		{"user without password", []string{"ls", ref, "--plain-http", "-u", "ci"}, ExitUsage, []string{"-u ci needs a password", "--password-stdin"}},
		{"password without user", []string{"ls", ref, "--plain-http", "--password-stdin"}, ExitUsage, []string{"no user name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runIn(t, env, "s3cret\n", tc.args...)
			checkUsage(t, tc, stdout, stderr, code)
		})
	}
	if stdout, stderr, code := runIn(t, env, "wrong\n", "ls", ref, "--plain-http", "-u", "ci", "--password-stdin"); code != ExitFailure {
		t.Fatalf("ls with a wrong password: exit %d\n%s%s", code, stdout, stderr)
	}
	// Nothing was written to the docker config.
	if files := listFiles(t, env["DOCKER_CONFIG"]); len(files) != 0 {
		t.Errorf("credentials for one run were stored: %v", files)
	}
}
