package ratify

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

func convertText(t *testing.T, text string) *Result {
	t.Helper()
	rs, ps := Decode("test.yaml", []byte(text))
	res := Convert(rs, Options{})
	res.Problems = append(ps, res.Problems...)
	return res
}

// findingAt returns the finding at path whose message holds want.
func findingAt(fs []Finding, path, want string) bool {
	for _, f := range fs {
		if f.Path == path && strings.Contains(f.Message, want) {
			return true
		}
	}
	return false
}

const verifierDoc = `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata:
  name: verifier-notation
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCertStores:
      certs:
        - inline-cert
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - name: default
          registryScopes: ["*"]
          signatureVerification: {level: strict}
          trustStores: ["ca:certs"]
          trustedIdentities: ["*"]
`

func inlineKMP(t *testing.T) string {
	t.Helper()
	cert, _, _, err := testpeers.ServingCertificate("ratify", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("apiVersion: config.ratify.deislabs.io/v1beta1\nkind: KeyManagementProvider\nmetadata:\n  name: inline-cert\nspec:\n  type: inline\n  parameters:\n    contentType: certificate\n    value: |\n")
	for _, line := range strings.Split(strings.TrimSpace(string(cert)), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

func TestInlineProviderAndTypedStores(t *testing.T) {
	typed := strings.Replace(verifierDoc, "      certs:\n        - inline-cert", "      ca:\n        certs:\n          - inline-cert", 1)
	for name, verifier := range map[string]string{"legacy form": verifierDoc, "typed form": typed} {
		t.Run(name, func(t *testing.T) {
			res := convertText(t, inlineKMP(t)+"---\n"+verifier)
			if !res.OK() {
				t.Fatalf("problems: %v", res.Problems)
			}
			ts := res.Config.TrustStores
			if len(ts) != 1 || ts[0].Name != "certs" || ts[0].Type != "ca" || !strings.Contains(ts[0].Certificates[0].PEM, "BEGIN CERTIFICATE") {
				t.Fatalf("trust stores %+v", ts)
			}
		})
	}
}

func TestMalformedAndUnsupported(t *testing.T) {
	tests := []struct {
		name, text string
		path, want string
	}{
		{"not YAML", "kind: [", "", "is not valid YAML: line 1"},
		{"not a resource", "- a\n- b\n", "", "not a Kubernetes resource"},
		{"another group", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "", "not one of Ratify's resources"},
		{"version not served", "apiVersion: config.ratify.deislabs.io/v1alpha1\nkind: KeyManagementProvider\nmetadata: {name: x}\n", "apiVersion", "not a version Ratify serves"},
		{"no name", "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {}\n", "metadata.name", "required"},
		{"spec not an object", "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: s}\nspec: 3\n", "spec", "not an object"},
		{"unknown field with suggestion", verifierDoc + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: s}\nspec:\n  name: oras\n  parameters:\n    useHtp: true\n",
			"spec.parameters.useHtp", `did you mean "useHttp"`},
		{"unknown spec field", strings.Replace(verifierDoc, "  name: notation\n", "  name: notation\n  trustPolicy: x\n", 1), "spec.trustPolicy", "unknown field"},
		{"wrong type", "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: s}\nspec:\n  name: oras\n  parameters:\n    useHttp: maybe\n", "spec.parameters.useHttp", "not true or false"},
		{"cosign verifier in the legacy form without a key", strings.Replace(verifierDoc, "name: notation", "name: cosign", 1), "spec.parameters.key", "from any identity Fulcio vouched for"},
		{"sbom verifier", strings.Replace(verifierDoc, "name: notation", "type: sbom\n  name: verifier-sbom", 1), "spec.type", "sbom verifiers are not supported yet"},
		{"rego policy", verifierDoc + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Policy\nmetadata: {name: ratify-policy}\nspec:\n  type: rego-policy\n  parameters: {policy: x}\n", "spec.type", "Rego policies are not supported"},
		{"policy for SBOMs", verifierDoc + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Policy\nmetadata: {name: ratify-policy}\nspec:\n  type: config-policy\n  parameters:\n    artifactVerificationPolicies: {\"application/spdx+json\": any}\n", "spec.parameters.artifactVerificationPolicies.application/spdx+json", "does not verify yet"},
		{"missing certificate store", verifierDoc, "spec.parameters.verificationCertStores.certs[0]", `"inline-cert" names no KeyManagementProvider`},
		{"certificate store list not a string list", strings.Replace(verifierDoc, "inline-cert", "cs", 1) + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata: {name: cs}\nspec:\n  provider: azurekeyvault\n  parameters:\n    vaultURI: https://v.vault.azure.net/\n    tenantID: t\n    clientID: c\n    certificates: \"nonsense\"\n",
			"spec.parameters.certificates", "not Ratify's certificate list"},
		{"certificate store entry with a repeated key", strings.Replace(verifierDoc, "inline-cert", "cs", 1) + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata: {name: cs}\nspec:\n  provider: azurekeyvault\n  parameters:\n    vaultURI: https://v.vault.azure.net/\n    tenantID: t\n    clientID: c\n    certificates: |\n      array:\n        - |\n          certificateName: x\n          certificateName: y\n",
			"spec.parameters.certificates.array[0]", `is not "certificateName: NAME"`},
		{"certificate store entry with a typo", strings.Replace(verifierDoc, "inline-cert", "cs", 1) + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata: {name: cs}\nspec:\n  provider: azurekeyvault\n  parameters:\n    vaultURI: https://v.vault.azure.net/\n    tenantID: t\n    clientID: c\n    certificates: |\n      array:\n        - |\n          certificateNam: x\n",
			"spec.parameters.certificates.array[0].certificateNam", `did you mean "certificateName"`},
		{"aws auth provider", verifierDoc + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: s}\nspec:\n  name: oras\n  parameters:\n    authProvider: {name: awsEcrBasic}\n", "spec.parameters.authProvider.name", "not supported yet"},
		{"no verifier", "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: s}\nspec: {name: oras}\n", "", "no Verifier of type notation"},
		{"key provider", strings.Replace(verifierDoc, "inline-cert", "k", 1) + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: KeyManagementProvider\nmetadata: {name: k}\nspec:\n  type: inline\n  parameters: {contentType: key, value: x}\n", "spec.parameters.contentType", "keys are for a cosign Verifier's trustPolicies"},
		{"bad refresh interval", strings.Replace(verifierDoc, "inline-cert", "k", 1) + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: KeyManagementProvider\nmetadata: {name: k}\nspec:\n  type: inline\n  refreshInterval: soon\n  parameters: {contentType: certificate, value: x}\n", "spec.refreshInterval", "not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convertText(t, tt.text)
			if res.OK() {
				t.Fatal("converted with no problem")
			}
			if !findingAt(res.Problems, tt.path, tt.want) {
				t.Errorf("no problem at %q saying %q; problems:\n%v", tt.path, tt.want, res.Problems)
			}
		})
	}
}

func TestExecutor(t *testing.T) {
	text := `apiVersion: config.ratify.sh/v2alpha1
kind: Executor
metadata:
  name: ratify
spec:
  scopes: ["myregistry.azurecr.io/app"]
  stores:
    - type: registry-store
      parameters:
        credential: {provider: azure, clientID: c1, tenantID: t1}
  verifiers:
    - name: notation-1
      type: notation
      parameters:
        trustedIdentities: ["x509.subject: CN=release, O=Example, ST=WA, C=US"]
        certificates:
          - type: ca
            azurekeyvault:
              vaultURL: https://v.vault.azure.net
              certificates: [{name: signer, version: "0123456789abcdef"}]
`
	res := convertText(t, text)
	if !res.OK() {
		t.Fatalf("problems: %v", res.Problems)
	}
	var doc map[string]any
	if err := json.Unmarshal(res.Config.TrustPolicy.Inline, &doc); err != nil {
		t.Fatal(err)
	}
	pol := doc["trustPolicies"].([]any)[0].(map[string]any)
	if pol["registryScopes"].([]any)[0] != "myregistry.azurecr.io/app" || pol["trustStores"].([]any)[0] != "ca:executor-0-0" {
		t.Errorf("trust policy %s", res.Config.TrustPolicy.Inline)
	}
	if az := res.Config.Registries[0].Credentials.Azure; az == nil || az.ClientID != "c1" || az.TenantID != "t1" {
		t.Errorf("registries %+v", res.Config.Registries)
	}
}

func TestCRDs(t *testing.T) {
	out := CRDs()
	for _, want := range []string{"name: certificatestores.config.ratify.deislabs.io", "jsonPath: .status.lastfetchedtime", "scope: Namespaced", "name: v1alpha1", "kind: NamespacedKeyManagementProvider",
		"name: executors.config.ratify.sh", "group: config.ratify.sh", "name: v2alpha1", "jsonPath: .status.succeeded"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("CRDs lack %q", want)
		}
	}
	if n := bytes.Count(out, []byte("kind: CustomResourceDefinition")); n != len(crds) {
		t.Errorf("%d CRDs, want %d", n, len(crds))
	}
}

// FuzzConvert: whatever the input, every finding names its resource and
// says something; and a conversion without problems is a hallmark
// configuration that loads, whose trust policy is the Verifier's document.
func FuzzConvert(f *testing.F) {
	for _, name := range []string{"store_config.yaml", "akv-certificate-store.yaml", "akv-verifier.yaml"} {
		data, _ := os.ReadFile(filepath.Join("testdata", "seed", name))
		f.Add(data)
	}
	f.Add([]byte(verifierDoc))
	f.Add([]byte(verifierDoc + "---\n" + cosignDoc("    trustPolicies:\n      - {name: p, scopes: [\"*\"], keys: [{file: /k.pub}], tLogVerify: false}\n")))
	f.Add([]byte(verifierDoc + "---\n" + cosignDoc("    trustPolicies:\n      - name: p\n        scopes: [\"ghcr.io/a/b\"]\n        keyless: {certificateIdentityRegExp: \"^x$\", certificateOIDCIssuer: i}\n")))
	f.Add([]byte("apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: s}\nspec: {name: oras, parameters: {useHttp: true}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, ps := Decode("fuzz.yaml", data)
		res := Convert(rs, Options{})
		for _, fd := range append(append(ps, res.Problems...), res.Notes...) {
			if fd.Resource == "" || fd.Message == "" {
				t.Fatalf("finding without resource or message: %+v", fd)
			}
		}
		if len(ps) > 0 || !res.OK() {
			return
		}
		out, err := res.YAML()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse(out)
		if err != nil {
			t.Fatalf("no problem reported, yet the output does not load: %v\n%s", err, out)
		}
		if !bytes.Equal(compactJSON(t, cfg.TrustPolicy.Inline), compactJSON(t, res.Config.TrustPolicy.Inline)) {
			t.Fatalf("the trust policy changed on the way out")
		}
		if cfg.Verification.RequireAllSignatures != res.Config.Verification.RequireAllSignatures {
			t.Fatalf("requireAllSignatures changed on the way out:\n%s", out)
		}
		if !reflect.DeepEqual(cfg.Cosign, res.Config.Cosign) || cfg.SignatureKindDefault() != res.Config.SignatureKindDefault() {
			t.Fatalf("the cosign section or signature kinds changed on the way out:\n%s", out)
		}
	})
}

func compactJSON(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}
