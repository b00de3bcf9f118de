package serve

import (
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

// frontedRegistry is a TLS server in front of a real (in-process) registry,
// asking for basic auth when user is set.
type frontedRegistry struct {
	srv  *httptest.Server
	host string
	ca   string // the server certificate in PEM, its own CA
}

func front(t *testing.T, registryHost, user, password string) *frontedRegistry {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: registryHost})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user != "" {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &frontedRegistry{
		srv:  srv,
		host: strings.TrimPrefix(srv.URL, "https://"),
		ca:   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})),
	}
}

func TestRegistryOptions(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no ambient credentials
	ctx := t.Context()
	reg, err := devregistry.Start(ctx, devregistry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	if _, err := devregistry.PushSampleImage(ctx, reg.Host(), "app", "v1", "a"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	private := front(t, reg.Host(), "alice", "s3cret")
	selfSigned := front(t, reg.Host(), "", "")
	unlisted := front(t, reg.Host(), "", "")
	privateCA := writeFile(t, filepath.Join(dir, "private-ca.pem"), private.ca)
	password := writeFile(t, filepath.Join(dir, "password"), "s3cret\n")

	c := base(t)
	c.Registries = []config.Registry{
		{Hosts: []string{private.host}, CAFile: privateCA, Credentials: config.Credentials{Username: "alice", PasswordFile: password}},
		{Hosts: []string{selfSigned.host}, InsecureSkipTLSVerify: true},
		{Hosts: []string{reg.Host()}, PlainHTTP: true},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	opts, err := RegistryOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	client, err := oci.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(host string) error {
		_, err := client.Resolve(ctx, host+"/app:v1")
		return err
	}

	for _, tc := range []struct {
		name string
		host string
		want error
	}{
		{"its own CA and credentials", private.host, nil},
		{"verification skipped for that host", selfSigned.host, nil},
		{"plain HTTP for that host", reg.Host(), nil},
		// Neither the private CA nor the skipped verification leak to a
		// host no entry matches. httptest servers all present the same
		// certificate, so this one shows exactly the certificate the first
		// entry trusts for its host, and is refused all the same.
		{"an unlisted host keeps full verification", unlisted.host, oci.ErrTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := resolve(tc.host)
			if tc.want == nil && err != nil {
				t.Fatalf("resolve on %s: %v", tc.host, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("resolve on %s: %v, want %v", tc.host, err, tc.want)
			}
		})
	}

	t.Run("wrong password", func(t *testing.T) {
		t.Setenv("HALLMARK_TEST_PASSWORD", "wrong")
		c := base(t)
		c.Registries = []config.Registry{{Hosts: []string{private.host}, CAFile: privateCA, Credentials: config.Credentials{Username: "alice", PasswordFromEnv: "HALLMARK_TEST_PASSWORD"}}}
		opts, err := RegistryOptions(c)
		if err != nil {
			t.Fatal(err)
		}
		client, _ := oci.New(opts)
		_, err = client.Resolve(ctx, private.host+"/app:v1")
		if !errors.Is(err, oci.ErrUnauthorized) {
			t.Fatalf("got %v", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Fatalf("the password shows in the error: %v", err)
		}
	})
}

func TestRegistryCredentials(t *testing.T) {
	dockerDir := t.TempDir()
	writeFile(t, filepath.Join(dockerDir, "config.json"), `{"auths":{"fallback.example":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("dock:er"))+`"}}}`)
	t.Setenv("DOCKER_CONFIG", dockerDir)
	t.Setenv("HALLMARK_TEST_TOKEN", "tok")
	dir := t.TempDir()
	pullSecret := writeFile(t, filepath.Join(dir, ".dockerconfigjson"),
		`{"auths":{"team.azurecr.io":{"username":"pull","password":"secret"},"other.azurecr.io":{"username":"o","password":"p"}}}`)
	dockerConfig := writeFile(t, filepath.Join(dir, "config.json"),
		`{"auths":{"https://index.docker.io/v1/":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("hub:pw"))+`"}}}`)

	c := base(t)
	c.Registries = []config.Registry{
		{Hosts: []string{"*.AzureCR.io"}, Credentials: config.Credentials{DockerConfigJSONFile: pullSecret}},
		{Hosts: []string{"docker.io"}, Credentials: config.Credentials{DockerConfigFile: dockerConfig}},
		{Hosts: []string{"token.example"}, Credentials: config.Credentials{TokenFromEnv: "HALLMARK_TEST_TOKEN"}},
		{Hosts: []string{"fallback.example", "anon.example"}, PlainHTTP: true},
		{Hosts: []string{"team.azurecr.io"}, Credentials: config.Credentials{Username: "never", PasswordFromEnv: "HALLMARK_TEST_TOKEN"}},
	}
	opts, err := RegistryOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	// Each entry becomes the oci.HostSettings at its index; oci picks the
	// first match (its own tests cover that).
	for _, tc := range []struct {
		entry  int // -1: the store for hosts no entry gives credentials
		server string
		want   auth.Credential
	}{
		{0, "team.azurecr.io", auth.Credential{Username: "pull", Password: "secret"}},
		{1, "https://index.docker.io/v1/", auth.Credential{Username: "hub", Password: "pw"}},
		{2, "token.example", auth.Credential{RefreshToken: "tok"}},
		{4, "team.azurecr.io", auth.Credential{Username: "never", Password: "tok"}},
		{-1, "fallback.example", auth.Credential{Username: "dock", Password: "er"}}, // entry without credentials: docker config
		{-1, "unlisted.example", auth.Credential{}},
	} {
		t.Run(tc.server, func(t *testing.T) {
			store := opts.CredentialsStore
			if tc.entry >= 0 {
				store = opts.Hosts[tc.entry].Credentials
			}
			got, err := store.Get(t.Context(), tc.server)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if err := store.Put(t.Context(), "x", auth.Credential{}); err == nil {
				t.Error("the configuration's credentials accepted a write")
			}
		})
	}
	if len(opts.Hosts) != len(c.Registries) || opts.Hosts[3].Credentials != nil {
		t.Fatalf("hosts %+v; want one per registries entry, and none for an entry without credentials", opts.Hosts)
	}
	if !opts.Hosts[3].PlainHTTP || opts.Hosts[0].PlainHTTP || !slices.Equal(opts.Hosts[0].Patterns, []string{"*.AzureCR.io"}) {
		t.Error("plain HTTP or patterns not carried per entry")
	}
	if opts.HTTPClient != nil {
		t.Error("a custom HTTP client: oci builds the transport")
	}

	t.Run("problems", func(t *testing.T) {
		t.Setenv("HALLMARK_TEST_EMPTY", "")
		c := base(t)
		c.Registries = []config.Registry{
			{Hosts: []string{"a.io"}, Credentials: config.Credentials{DockerConfigFile: filepath.Join(dir, "none.json")}},
			{Hosts: []string{"b.io"}, Credentials: config.Credentials{DockerConfigJSONFile: writeFile(t, filepath.Join(dir, "bad"), `{"auths": 1, "secret": "hunter2"}`)}},
			{Hosts: []string{"c.io"}, Credentials: config.Credentials{Username: "u", PasswordFromEnv: "HALLMARK_TEST_EMPTY"}},
			{Hosts: []string{"d.io"}, Credentials: config.Credentials{TokenFile: writeFile(t, filepath.Join(dir, "empty"), "\n")}},
			{Hosts: []string{"e.io"}, CAFile: writeFile(t, filepath.Join(dir, "notca"), "hello")},
		}
		_, err := RegistryOptions(c)
		got := problemsOf(t, err)
		wantProblems(t, got, map[string]string{
			"registries[0].credentials.dockerConfigFile":     "none.json",
			"registries[1].credentials.dockerConfigJSONFile": "is not a .dockerconfigjson",
			"registries[2].credentials.passwordFromEnv":      "HALLMARK_TEST_EMPTY is unset or empty",
			"registries[3].credentials.tokenFile":            "is empty",
			"registries[4].caFile":                           "holds no PEM certificate",
		})
		if strings.Contains(strings.Join(got, "\n"), "hunter2") {
			t.Error("file content shows in a problem")
		}
	})
	t.Run("allowed registries", func(t *testing.T) {
		c := base(t)
		c.AllowedRegistries = []string{"ghcr.io", "*.azurecr.io"}
		opts, err := RegistryOptions(c)
		if err != nil || !slices.Equal(opts.AllowedRegistries, c.AllowedRegistries) {
			t.Fatalf("got %+v, %v; want the allow-list passed on", opts, err)
		}
	})
	t.Run("no registries is hallmark verify's default", func(t *testing.T) {
		opts, err := RegistryOptions(base(t))
		if err != nil || opts.CredentialsStore != nil || opts.Hosts != nil || opts.AllowedRegistries != nil || opts.HTTPClient != nil {
			t.Fatalf("got %+v, %v", opts, err)
		}
	})
}
