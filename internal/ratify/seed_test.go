package ratify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hallmark-dev/hallmark/internal/config"
)

// seedVars are the walkthrough's $VARIABLES, with values of their shape.
var seedVars = map[string]string{
	"IDENTITY_CLIENT_ID": "1b3b2c4d-0000-4000-8000-000000000001",
	"AKV_URI":            "https://hallmark-akv.vault.azure.net/",
	"CERT_NAME":          "hallmark-signing",
	"VERSION_ID":         "c53ad379d88d4cbe87c2bd3af2c29140",
	"TENANT_ID":          "72f988bf-86f1-41af-91ab-2d7cd011db47",
}

// seedResources reads testdata/seed: the reference walkthrough's three
// files, verbatim, with only the $VARIABLES substituted.
func seedResources(t *testing.T) []*Resource {
	t.Helper()
	var all []*Resource
	for _, name := range []string{"store_config.yaml", "akv-certificate-store.yaml", "akv-verifier.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "seed", name))
		if err != nil {
			t.Fatal(err)
		}
		text := os.Expand(string(data), func(k string) string {
			v, ok := seedVars[k]
			if !ok {
				t.Fatalf("%s: unknown variable %s", name, k)
			}
			return v
		})
		rs, problems := Decode(name, []byte(text))
		if len(problems) > 0 {
			t.Fatalf("%s: %v", name, problems)
		}
		all = append(all, rs...)
	}
	return all
}

func TestSeedConvertsWithNoProblem(t *testing.T) {
	res := Convert(seedResources(t), Options{})
	for _, p := range res.Problems {
		t.Errorf("problem: %s", p)
	}
	// The one note the issue settles: cosignEnabled inside authProvider.
	found := false
	for _, n := range res.Notes {
		if n.Path == "spec.parameters.authProvider.cosignEnabled" {
			found = true
		}
	}
	if !found {
		t.Errorf("no note about cosignEnabled inside authProvider; notes: %v", res.Notes)
	}
	if !res.OK() {
		t.Fatal("not OK")
	}
	cfg := res.Config
	if len(cfg.Registries) != 1 || cfg.Registries[0].Credentials.Azure == nil ||
		cfg.Registries[0].Credentials.Azure.ClientID != seedVars["IDENTITY_CLIENT_ID"] ||
		strings.Join(cfg.Registries[0].Hosts, ",") != "*.azurecr.io,*.azurecr.us,*.azurecr.cn" {
		t.Errorf("registries = %+v", cfg.Registries)
	}
	want := config.TrustStore{Name: "certs", Type: "ca", Certificates: []config.CertificateSource{{
		Key: "https://hallmark-akv.vault.azure.net/certificates/hallmark-signing/c53ad379d88d4cbe87c2bd3af2c29140",
		// The vault is read as the identity the CertificateStore names.
		Azure: &config.AzureCredentials{ClientID: seedVars["IDENTITY_CLIENT_ID"], TenantID: seedVars["TENANT_ID"]},
	}}}
	if diff := cmp.Diff([]config.TrustStore{want}, cfg.TrustStores); diff != "" {
		t.Errorf("trustStores (-want +got):\n%s", diff)
	}
	out, err := res.YAML()
	if err != nil {
		t.Fatal(err)
	}
	// What is printed loads as a hallmark configuration.
	if _, err := config.Parse(out); err != nil {
		t.Fatalf("the output does not load: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
