package ratify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
)

// cosignDoc is a cosign Verifier as Ratify v1.4.6's samples write it, with
// PARAMS in place of its parameters.
func cosignDoc(params string) string {
	return `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata:
  name: verifier-cosign
spec:
  name: cosign
  artifactTypes: application/vnd.dev.cosign.artifact.sig.v1+json
  parameters:
` + params
}

func publicKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func inlineKeyKMP(t *testing.T, name string) string {
	var b strings.Builder
	b.WriteString("apiVersion: config.ratify.deislabs.io/v1beta1\nkind: KeyManagementProvider\nmetadata:\n  name: " + name + "\nspec:\n  type: inline\n  parameters:\n    contentType: key\n    value: |\n")
	for _, line := range strings.Split(strings.TrimSpace(publicKeyPEM(t)), "\n") {
		b.WriteString("      " + line + "\n")
	}
	return b.String()
}

const akvKeysKMP = `apiVersion: config.ratify.deislabs.io/v1beta1
kind: KeyManagementProvider
metadata: {name: kv-keys}
spec:
  type: azurekeyvault
  parameters:
    vaultURI: https://v.vault.azure.net/
    tenantID: t
    clientID: c
    keys:
      - {name: signer, version: "0123456789abcdef"}
      - {name: other, version: "fedcba9876543210"}
`

// kvIdentity is the identity akvKeysKMP names: its keys are read with it,
// as Ratify reads them.
var kvIdentity = &config.AzureCredentials{ClientID: "c", TenantID: "t"}

func TestCosignVerifierMaps(t *testing.T) {
	key := inlineKeyKMP(t, "inline-key")
	tests := []struct {
		name, text, root string
		want             config.Cosign
		kinds            string
	}{
		{"inline key, no transparency log", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + key + "---\n" + cosignDoc(`    trustPolicies:
      - name: default
        scopes: ["*"]
        keys: [{provider: inline-key}]
        tLogVerify: false
`), "", config.Cosign{Policies: []config.CosignPolicy{{Name: "default", Scopes: []string{"*"}, Keys: []config.CosignKey{{PEM: "PEM"}}}}}, "each"},
		{"Key Vault key by name, transparency log by default", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + akvKeysKMP + "---\n" + cosignDoc(`    trustPolicies:
      - name: app
        scopes: ["myregistry.azurecr.io/app"]
        keys: [{provider: kv-keys, name: signer}]
`), "/etc/hallmark/trusted_root.json", config.Cosign{TrustedRootFile: "/etc/hallmark/trusted_root.json", Policies: []config.CosignPolicy{{Name: "app", Scopes: []string{"myregistry.azurecr.io/app"},
			Keys: []config.CosignKey{{Key: "https://v.vault.azure.net/keys/signer/0123456789abcdef", Azure: kvIdentity}}, RequireTransparencyLog: true}}}, "each"},
		{"every Key Vault key, and a file", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + akvKeysKMP + "---\n" + cosignDoc(`    trustPolicies:
      - name: all-keys
        scopes: ["*"]
        keys: [{provider: kv-keys}, {file: /keys/cosign.pub}]
        tLogVerify: false
`), "", config.Cosign{Policies: []config.CosignPolicy{{Name: "all-keys", Scopes: []string{"*"},
			Keys: []config.CosignKey{{Key: "https://v.vault.azure.net/keys/signer/0123456789abcdef", Azure: kvIdentity}, {Key: "https://v.vault.azure.net/keys/other/fedcba9876543210", Azure: kvIdentity}, {File: "/keys/cosign.pub"}}}}}, "each"},
		{"a Key Vault key without a version: its current one", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + strings.Replace(akvKeysKMP, `{name: signer, version: "0123456789abcdef"}`, `{name: signer}`, 1) + "---\n" + cosignDoc(`    trustPolicies:
      - name: app
        scopes: ["*"]
        keys: [{provider: kv-keys, name: signer}]
        tLogVerify: false
`), "", config.Cosign{Policies: []config.CosignPolicy{{Name: "app", Scopes: []string{"*"},
			Keys: []config.CosignKey{{Key: "https://v.vault.azure.net/keys/signer", Azure: kvIdentity, CurrentVersionOnly: true}}}}}, "each"},
		{"keyless, exact and regular expression", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + cosignDoc(`    trustPolicies:
      - name: upstream
        scopes: ["ghcr.io/org/app", "ghcr.io/org/tool"]
        keyless:
          certificateIdentityRegExp: "^https://github.com/org/.*$"
          certificateOIDCIssuer: https://token.actions.githubusercontent.com
          ctLogVerify: false
`), "/root.json", config.Cosign{TrustedRootFile: "/root.json", Policies: []config.CosignPolicy{{Name: "upstream", Scopes: []string{"ghcr.io/org/app", "ghcr.io/org/tool"},
			Keyless: []config.CosignIdentity{{SubjectRegExp: "^https://github.com/org/.*$", Issuer: "https://token.actions.githubusercontent.com"}}, RequireTransparencyLog: true}}}, "each"},
		{"legacy key", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + cosignDoc(`    key: /usr/local/ratify-certs/cosign/cosign.pub
`), "", config.Cosign{Policies: []config.CosignPolicy{{Name: "verifier-cosign", Scopes: []string{"*"}, Keys: []config.CosignKey{{File: "/usr/local/ratify-certs/cosign/cosign.pub"}}}}}, "each"},
		{"legacy key with Rekor", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + cosignDoc(`    key: /k.pub
    rekorURL: https://rekor.example
`), "/r.json", config.Cosign{TrustedRootFile: "/r.json", Policies: []config.CosignPolicy{{Name: "verifier-cosign", Scopes: []string{"*"}, Keys: []config.CosignKey{{File: "/k.pub"}}, RequireTransparencyLog: true}}}, "each"},
		{"policy naming both types", inlineKMP(t) + "---\n" + verifierDoc + "---\n" + cosignDoc(`    key: /k.pub
`) + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Policy\nmetadata: {name: ratify-policy}\nspec:\n  type: config-policy\n  parameters:\n    artifactVerificationPolicies:\n      application/vnd.cncf.notary.signature: any\n      application/vnd.dev.cosign.artifact.sig.v1+json: any\n",
			"", config.Cosign{Policies: []config.CosignPolicy{{Name: "verifier-cosign", Scopes: []string{"*"}, Keys: []config.CosignKey{{File: "/k.pub"}}}}}, "all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, ps := Decode("test.yaml", []byte(tt.text))
			res := Convert(rs, Options{CosignTrustedRootFile: tt.root})
			res.Problems = append(ps, res.Problems...)
			// Where the cosign policies leave a repository out, each
			// admits there what Ratify denies: said as a problem.
			star, uncovered := false, false
			for _, p := range tt.want.Policies {
				star = star || slices.Contains(p.Scopes, "*")
			}
			res.Problems = slices.DeleteFunc(res.Problems, func(f Finding) bool {
				if strings.Contains(f.Message, `no cosign trust policy has scope "*"`) {
					uncovered = true
					return true
				}
				return false
			})
			if uncovered == star {
				t.Errorf("problem on uncovered repositories: %v, want %v", uncovered, !star)
			}
			if !res.OK() {
				t.Fatalf("problems: %v", res.Problems)
			}
			// What is printed loads and validates as a hallmark
			// configuration, cosign section unchanged.
			out, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(out)
			if err != nil {
				t.Fatalf("the output does not load: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(cfg.Cosign, res.Config.Cosign) || cfg.SignatureKindDefault() != tt.kinds {
				t.Errorf("cosign changed on the way out:\n%s", out)
			}
			got := cfg.Cosign
			for i := range got.Policies {
				for j, k := range got.Policies[i].Keys {
					if strings.Contains(k.PEM, "BEGIN PUBLIC KEY") {
						got.Policies[i].Keys[j].PEM = "PEM"
					}
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cosign:\n got %+v\nwant %+v", got, tt.want)
			}
			if k := res.Config.SignatureKindDefault(); k != tt.kinds {
				t.Errorf("signatureKinds.default %s, want %s", k, tt.kinds)
			}
			// each is what Ratify verifies: no note of a difference.
			for _, n := range res.Notes {
				if tt.kinds == config.KindEach && strings.Contains(n.Message, "signatureKinds") {
					t.Errorf("note on signature kinds under each: %s", n.Message)
				}
			}
			if !findingAt(res.Notes, "", "plus Sigstore bundles made with the same keys") {
				t.Errorf("no note on bundles: %v", res.Notes)
			}
		})
	}
}

func TestCosignVerifierProblems(t *testing.T) {
	base := inlineKMP(t) + "---\n" + verifierDoc + "---\n"
	policy := func(body string) string {
		return base + cosignDoc("    trustPolicies:\n      - name: p\n        scopes: [\"*\"]\n"+body)
	}
	const tp = "spec.parameters.trustPolicies[0]"
	tests := []struct {
		name, text string
		path, want string
	}{
		{"keyless without a trusted root", policy("        tLogVerify: false\n        keyless: {certificateIdentity: a@example.com, certificateOIDCIssuer: https://accounts.google.com}\n"),
			tp + ".keyless", "give it with --cosign-trusted-root FILE"},
		{"tLogVerify by default without a trusted root", policy("        keys: [{file: /k.pub}]\n"),
			tp + ".tLogVerify", "tLogVerify is not set, and it is true by default"},
		{"tLogVerify true without a trusted root", policy("        keys: [{file: /k.pub}]\n        tLogVerify: true\n"),
			tp + ".tLogVerify", "tLogVerify is true: Ratify requires a Rekor entry"},
		{"tLogVerify not a boolean", policy("        keys: [{file: /k.pub}]\n        tLogVerify: maybe\n"),
			tp + ".tLogVerify", "not true or false"},
		{"no identity", policy("        tLogVerify: false\n        keyless: {certificateOIDCIssuer: https://accounts.google.com}\n"),
			tp + ".keyless", "exactly one of certificateIdentity and certificateIdentityRegExp"},
		{"two issuers", policy("        tLogVerify: false\n        keyless: {certificateIdentity: a, certificateOIDCIssuer: b, certificateOIDCIssuerRegExp: c}\n"),
			tp + ".keyless", "exactly one of certificateOIDCIssuer and certificateOIDCIssuerRegExp"},
		{"keys and keyless", policy("        tLogVerify: false\n        keys: [{file: /k.pub}]\n        keyless: {certificateIdentity: a, certificateOIDCIssuer: b}\n"),
			tp + ".keyless", "keys and keyless in one trust policy"},
		{"neither keys nor keyless", policy("        tLogVerify: false\n"), tp, "give keys or keyless"},
		{"empty keyless", policy("        tLogVerify: false\n        keyless: {}\n"), tp, "give keys or keyless"},
		{"key with provider and file", policy("        tLogVerify: false\n        keys: [{file: /k.pub, provider: x}]\n"), tp + ".keys[0]", "provider or file, not both"},
		{"key with neither", policy("        tLogVerify: false\n        keys: [{name: x}]\n"), tp + ".keys[0]", "give provider (a KeyManagementProvider) or file"},
		{"version without name", policy("        tLogVerify: false\n        keys: [{provider: x, version: v}]\n"), tp + ".keys[0].version", "needs name"},
		{"missing provider", policy("        tLogVerify: false\n        keys: [{provider: nowhere}]\n"), tp + ".keys[0].provider", `"nowhere" names no KeyManagementProvider`},
		{"key name not in the vault", policy("        tLogVerify: false\n        keys: [{provider: kv-keys, name: absent}]\n") + "---\n" + akvKeysKMP, tp + ".keys[0].name", "key absent is not among the keys of KeyManagementProvider/kv-keys"},
		{"certificate provider for a key", policy("        tLogVerify: false\n        keys: [{provider: inline-cert}]\n"), "spec.parameters.contentType", "need contentType key"},
		{"unknown policy field", policy("        tLogVerify: false\n        keys: [{file: /k.pub}]\n        tlogVerify: false\n"), tp + ".tlogVerify", `did you mean "tLogVerify"`},
		{"unknown keyless field", policy("        tLogVerify: false\n        keyless: {certificateIdentity: a, certificateOIDCIssuer: b, certificateIssuer: c}\n"), tp + ".keyless.certificateIssuer", "unknown field"},
		{"prefix scope", base + cosignDoc("    trustPolicies:\n      - {name: p, scopes: [\"ghcr.io/org/*\"], keys: [{file: /k.pub}], tLogVerify: false}\n"), tp + ".scopes[0]", "prefix scopes are not supported"},
		{"scope with a tag", base + cosignDoc("    trustPolicies:\n      - {name: p, scopes: [\"ghcr.io/org/app:v1\"], keys: [{file: /k.pub}], tLogVerify: false}\n"), tp + ".scopes[0]", "names a tag or digest"},
		{"no scopes", base + cosignDoc("    trustPolicies:\n      - {name: p, keys: [{file: /k.pub}], tLogVerify: false}\n"), tp + ".scopes", "required"},
		{"no name", base + cosignDoc("    trustPolicies:\n      - {scopes: [\"*\"], keys: [{file: /k.pub}], tLogVerify: false}\n"), tp + ".name", "required"},
		{"unknown version", policy("        version: 2.0.0\n        tLogVerify: false\n        keys: [{file: /k.pub}]\n"), tp + ".version", "not a version Ratify reads"},
		{"legacy and trust policies", base + cosignDoc("    key: /k.pub\n    trustPolicies:\n      - {name: p, scopes: [\"*\"], keys: [{file: /k.pub}], tLogVerify: false}\n"), "spec.parameters", "cannot be used with trustPolicies"},
		{"legacy keyless", base + cosignDoc("    rekorURL: https://rekor.sigstore.dev\n"), "spec.parameters.key", "from any identity Fulcio vouched for"},
		{"wrong artifact type", base + strings.Replace(cosignDoc("    key: /k.pub\n"), "application/vnd.dev.cosign.artifact.sig.v1+json", "application/vnd.cncf.notary.signature", 1), "spec.artifactTypes", "never runs this verifier on a cosign signature"},
		{"trust policies not a list", base + cosignDoc("    trustPolicies: {name: p}\n"), "spec.parameters.trustPolicies", "not a list"},
		{"cosign only", cosignDoc("    key: /k.pub\n"), "", "hallmark needs a Notary Project trust policy even when images need only cosign signatures"},
		{"two cosign verifiers", base + cosignDoc("    key: /k.pub\n") + "---\n" + strings.Replace(cosignDoc("    key: /j.pub\n"), "name: verifier-cosign", "name: verifier-cosign-2", 1), "", "2 cosign Verifiers"},
		{"policy naming one type", base + cosignDoc("    key: /k.pub\n") + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Policy\nmetadata: {name: ratify-policy}\nspec:\n  type: config-policy\n  parameters:\n    artifactVerificationPolicies:\n      application/vnd.cncf.notary.signature: any\n",
			"spec.parameters.artifactVerificationPolicies.application/vnd.cncf.notary.signature", "the other if present"},
		{"notation trust policy without a * statement", inlineKMP(t) + "---\n" + strings.Replace(verifierDoc, `registryScopes: ["*"]`, `registryScopes: ["r.io/app"]`, 1) + "---\n" + cosignDoc("    key: /k.pub\n"), "", `the Notary Project trust policy has no "*" statement`},
		{"notation level skip", inlineKMP(t) + "---\n" + strings.Replace(verifierDoc, `level: strict`, `level: skip`, 1) + "---\n" + cosignDoc("    key: /k.pub\n"), "", `has level skip`},
		{"nested artifact types", base + cosignDoc("    key: /k.pub\n    nestedArtifactTypes: [application/spdx+json]\n"), "spec.parameters.nestedArtifactTypes", "not supported"},
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
