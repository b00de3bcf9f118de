package ratify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/serve"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
	"github.com/hallmark-dev/hallmark/internal/verify"
	"github.com/hallmark-dev/hallmark/internal/verify/cosign"
)

// indent puts PEM text under a YAML block scalar.
func indent(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

// TestImportedCosignVerifierVerifies: Ratify resources with a cosign
// Verifier whose trust policy names an inline key provider holding the
// public key the real cosign CLI made convert with no problem, and the
// configuration they convert to verifies images cosign signed with that
// key (a .sig simple signature and a Sigstore bundle), and refuses one
// signed with another key.
func TestImportedCosignVerifierVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the cosign CLI (tools/cosign) and the distribution registry")
	}
	cosignRun, home := cosignCLI(t)
	cosignRun("generate-key-pair", "--output-key-prefix", "good")
	cosignRun("generate-key-pair", "--output-key-prefix", "other")
	pub, err := os.ReadFile(filepath.Join(home, "good.pub"))
	if err != nil {
		t.Fatal(err)
	}
	cert, _, _, err := testpeers.ServingCertificate("ratify", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resources := `apiVersion: config.ratify.deislabs.io/v1beta1
kind: KeyManagementProvider
metadata: {name: notation-certs}
spec:
  type: inline
  parameters:
    contentType: certificate
    value: |
` + indent(string(cert)) + `---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-notation}
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCertStores: {certs: [notation-certs]}
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - {name: default, registryScopes: ["*"], signatureVerification: {level: strict}, trustStores: ["ca:certs"], trustedIdentities: ["*"]}
---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: KeyManagementProvider
metadata: {name: cosign-key}
spec:
  type: inline
  parameters:
    contentType: key
    value: |
` + indent(string(pub)) + `---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-cosign}
spec:
  name: cosign
  artifactTypes: application/vnd.dev.cosign.artifact.sig.v1+json
  parameters:
    trustPolicies:
      - name: default
        scopes: ["*"]
        keys: [{provider: cosign-key}]
        tLogVerify: false
`
	rs, ps := ratify.Decode("resources.yaml", []byte(resources))
	res := ratify.Convert(rs, ratify.Options{})
	if len(ps) > 0 || !res.OK() {
		t.Fatalf("problems: %v %v", ps, res.Problems)
	}
	policies, err := serve.CosignPolicies(t.Context(), res.Config)
	if err != nil {
		t.Fatal(err)
	}
	host := testpeers.StartDistribution(t)
	client, err := oci.New(oci.Options{PlainHTTP: true, ConfigPath: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := cosign.NewVerifier(policies, client, cosign.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, key string
		flags     []string
		want      verify.Code
	}{
		{"simple signature", "good.key", nil, verify.CodeVerified},
		{"bundle", "good.key", []string{"--new-bundle-format"}, verify.CodeVerified},
		{"another key", "other.key", nil, verify.CodeUntrustedSigner},
	} {
		t.Run(tt.name, func(t *testing.T) {
			repo := "app-" + strings.ReplaceAll(tt.name, " ", "-")
			img, err := devregistry.PushSampleImage(t.Context(), host, repo, "v1", tt.name)
			if err != nil {
				t.Fatal(err)
			}
			ref := host + "/" + repo + "@" + img.Digest.String()
			cosignRun(append(append([]string{"sign", "--key", tt.key, "--tlog-upload=false", "--allow-http-registry", "--allow-insecure-registry", "-y"}, tt.flags...), ref)...)
			got := v.Verify(t.Context(), ref)
			if got.Code != tt.want {
				t.Fatalf("Verify(%s) = %s: %s; want %s", ref, got.Code, got.Reason, tt.want)
			}
		})
	}
}
