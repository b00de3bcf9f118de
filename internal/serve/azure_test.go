package serve

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
)

// credentials.azure with the environment AKS workload identity injects
// (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID,
// AZURE_AUTHORITY_HOST) reads a registry through ACR's token exchange; the
// Azure endpoints are acrtest's fakes, checked against Microsoft's docs.
//
// azidentity reaches the authority with the system roots, which Go loads
// once per process: the test runs in a process of its own, where
// SSL_CERT_FILE (the fake's CA) is set before anything loads them.
func TestAzureCredentials(t *testing.T) {
	if os.Getenv("HALLMARK_TEST_AZURE_CHILD") != "1" {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestAzureCredentials$", "-test.v")
		cmd.Env = append(os.Environ(), "HALLMARK_TEST_AZURE_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestAzureCredentials") {
			t.Fatalf("the test did not run in its own process:\n%s", out)
		}
		return
	}
	const tenant, client, assertion = "72f988bf-86f1-41af-91ab-2d7cd011db47", "1b3b2c4d-0000-4000-8000-000000000001", "projected-sa-token"
	var entra *acrtest.Entra
	var reg *acrtest.ACR
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case reg.Handles(r):
			reg.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/v2/"):
			if !reg.CheckAccess(r.Header.Get("Authorization"), "app") {
				w.Header().Set("WWW-Authenticate", reg.Challenge("https", "app"))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, http.StatusNotFound)
		default:
			entra.ServeHTTP(w, r)
		}
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	entra = acrtest.NewEntra(t, host, tenant, client, assertion)
	reg = acrtest.NewACR(t, host, tenant, entra)

	dir := t.TempDir()
	ca := writeFile(t, filepath.Join(dir, "ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	t.Setenv("SSL_CERT_FILE", ca) // azidentity reaches the authority with the system roots
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", writeFile(t, filepath.Join(dir, "token"), assertion))
	t.Setenv("AZURE_CLIENT_ID", client)
	t.Setenv("AZURE_TENANT_ID", tenant)
	t.Setenv("AZURE_AUTHORITY_HOST", srv.URL+"/")

	c := base(t)
	c.Registries = []config.Registry{{Hosts: []string{host}, CAFile: ca, Credentials: config.Credentials{Azure: &config.AzureCredentials{Endpoints: []string{"127.0.0.1:*"}}}}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	opts, err := RegistryOptions(c)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := oci.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// The registry lets the identity in (the manifest is then simply
	// missing): anything but a 404 means the credentials did not work.
	_, err = cl.Resolve(context.Background(), host+"/app:v1")
	if !errors.Is(err, oci.ErrNotFound) {
		t.Fatalf("resolve: %v; want not found, past authentication", err)
	}
	if entra.Requests != 1 || reg.Exchanges != 1 {
		t.Errorf("Entra requests %d, exchanges %d", entra.Requests, reg.Exchanges)
	}

	t.Run("wrong client ID", func(t *testing.T) {
		c := base(t)
		c.Registries = []config.Registry{{Hosts: []string{host}, CAFile: ca, Credentials: config.Credentials{Azure: &config.AzureCredentials{ClientID: "not-the-app", Endpoints: []string{"127.0.0.1:*"}}}}}
		opts, err := RegistryOptions(c)
		if err != nil {
			t.Fatal(err)
		}
		cl, _ := oci.New(opts)
		_, err = cl.Resolve(context.Background(), host+"/app:v1")
		var oe *oci.Error
		if !errors.As(err, &oe) || !errors.Is(err, oci.ErrCredentials) || !strings.Contains(oe.Summary, "client ID not-the-app") || !strings.Contains(oe.Summary, "AADSTS700016") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestAzureCredentialsProblems(t *testing.T) {
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	t.Setenv("AZURE_CLIENT_ID", "")
	t.Setenv("AZURE_TENANT_ID", "")
	c := base(t)
	c.Registries = []config.Registry{
		{Hosts: []string{"a.azurecr.io"}, Credentials: config.Credentials{Azure: &config.AzureCredentials{}, TokenFile: "/x"}},
		{Hosts: []string{"b.azurecr.io"}, Credentials: config.Credentials{Azure: &config.AzureCredentials{Endpoints: []string{"[bad"}}}},
	}
	wantProblems(t, problemsOf(t, c.Validate()), map[string]string{
		"registries[0].credentials":                    "gives token and azure; give one source",
		"registries[1].credentials.azure.endpoints[0]": "not a host pattern",
	})
	c.Registries = []config.Registry{{Hosts: []string{"a.azurecr.io"}, Credentials: config.Credentials{Azure: &config.AzureCredentials{}}}}
	_, err := RegistryOptions(c)
	wantProblems(t, problemsOf(t, err), map[string]string{
		"registries[0].credentials.azure": "workload identity needs a client ID (clientID, or AZURE_CLIENT_ID), a tenant ID (tenantID, or AZURE_TENANT_ID), and AZURE_FEDERATED_TOKEN_FILE",
	})
}
