package ratify

import (
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
)

const storeHead = "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: s}\nspec:\n  name: oras\n  parameters:\n    authProvider:\n"

// wantProblem converts text and wants a problem at path that says want.
func wantProblem(t *testing.T, text, path, want string) {
	t.Helper()
	res := convertText(t, text)
	if res.OK() {
		t.Fatal("converted with no problem")
	}
	if !findingAt(res.Problems, path, want) {
		t.Errorf("no problem at %q saying %q; problems:\n%v", path, want, res.Problems)
	}
}

// TestNamespacedKindsStayProblems: Ratify uses a NamespacedStore,
// NamespacedVerifier or NamespacedPolicy only for Gatekeeper keys that name its namespace, in
// place of the cluster-wide ones, so even in Ratify's own namespace it is
// not a cluster-wide resource; the problem says so and what to do.
func TestNamespacedKindsStayProblems(t *testing.T) {
	nsVerifier := strings.Replace(strings.Replace(verifierDoc, "kind: Verifier", "kind: NamespacedVerifier", 1), "name: verifier-notation", "name: verifier-notation\n  namespace: gatekeeper-system", 1)
	nsPolicy := "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: NamespacedPolicy\nmetadata: {name: ratify-policy}\nspec:\n  type: config-policy\n  parameters:\n    artifactVerificationPolicies: {default: any}\n"
	nsStore := "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: NamespacedStore\nmetadata: {name: s, namespace: gatekeeper-system}\nspec:\n  name: oras\n  parameters: {useHttp: true}\n"
	for name, text := range map[string]string{
		"NamespacedStore":    inlineKMP(t) + "---\n" + verifierDoc + "---\n" + nsStore,
		"NamespacedVerifier": inlineKMP(t) + "---\n" + nsVerifier,
		"NamespacedPolicy":   inlineKMP(t) + "---\n" + verifierDoc + "---\n" + nsPolicy,
	} {
		t.Run(name, func(t *testing.T) {
			res := convertText(t, text)
			if res.OK() {
				t.Fatal("converted with no problem")
			}
			if !findingAt(res.Problems, "", "keys written [gatekeeper-system]IMAGE") || !findingAt(res.Problems, "", "leave it out of the import") {
				t.Errorf("no precise problem; problems:\n%v", res.Problems)
			}
		})
	}
}

func TestK8sSecrets(t *testing.T) {
	base := inlineKMP(t) + "---\n" + verifierDoc + "---\n" + storeHead
	tests := []struct {
		name        string
		auth        string
		problemPath string // "" when the import must be OK
		want        string
		files       []string
	}{
		{"one secret", "      name: k8Secrets\n      secrets: [{secretName: pull}]\n", "", "", []string{secretDir + "/pull/.dockerconfigjson"}},
		{"service account by default", "      name: k8Secrets\n", "spec.parameters.authProvider", "service account default in namespace gatekeeper-system", nil},
		{"named service account", "      name: k8Secrets\n      serviceAccountName: puller\n      secrets: [{secretName: pull}]\n", "spec.parameters.authProvider.serviceAccountName", "kubectl get serviceaccount puller -n gatekeeper-system", []string{secretDir + "/pull/.dockerconfigjson"}},
		{"two secrets", "      name: k8Secrets\n      secrets: [{secretName: a}, {secretName: b}]\n", "spec.parameters.authProvider.secrets", "only the first would be used", []string{secretDir + "/a/.dockerconfigjson"}},
		{"secret without name", "      name: k8Secrets\n      secrets: [{namespace: x}]\n", "spec.parameters.authProvider.secrets[0].secretName", "required", nil},
		{"secrets not a list", "      name: k8Secrets\n      secrets: pull\n", "spec.parameters.authProvider.secrets", "not a list", nil},
		{"unknown field", "      name: k8Secrets\n      secrets: [{secretName: a, namespce: b}]\n", "spec.parameters.authProvider.secrets[0].namespce", `did you mean "namespace"`, []string{secretDir + "/a/.dockerconfigjson"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convertText(t, base+tt.auth)
			if tt.problemPath == "" {
				if !res.OK() {
					t.Fatalf("problems: %v", res.Problems)
				}
				if !findingAt(res.Notes, "spec.parameters.authProvider", "service account default") {
					t.Errorf("no note about the service account fallback: %v", res.Notes)
				}
			} else if !findingAt(res.Problems, tt.problemPath, tt.want) {
				t.Fatalf("no problem at %q saying %q; problems:\n%v", tt.problemPath, tt.want, res.Problems)
			}
			var files []string
			for _, r := range res.Config.Registries {
				if f := r.Credentials.DockerConfigJSONFile; f != "" {
					files = append(files, f)
				}
			}
			if strings.Join(files, ",") != strings.Join(tt.files, ",") {
				t.Errorf("image pull secret files %v, want %v", files, tt.files)
			}
		})
	}
	res := convertText(t, base+"      name: k8Secrets\n      secrets: [{secretName: pull, namespace: other}]\n")
	if !res.OK() || !findingAt(res.Notes, "spec.parameters.authProvider.secrets[0].namespace", "copy secret pull from namespace other") {
		t.Errorf("secret of another namespace: problems %v, notes %v", res.Problems, res.Notes)
	}
}

// verifierWith is verifierDoc with other parameters before the trust
// policy, and trust stores named in the trust policy.
func verifierWith(params string, stores ...string) string {
	doc := strings.Replace(verifierDoc, "    verificationCertStores:\n      certs:\n        - inline-cert\n", params, 1)
	return strings.Replace(doc, `trustStores: ["ca:certs"]`, `trustStores: ["`+strings.Join(stores, `", "`)+`"]`, 1)
}

func TestVerificationCerts(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		stores []config.TrustStore
	}{
		{"folder", verifierWith("    verificationCerts: [/usr/local/ratify-certs/notation]\n", "ca:certs"),
			[]config.TrustStore{{Name: "certs", Type: "ca", Certificates: []config.CertificateSource{{Dir: "/usr/local/ratify-certs/notation"}}}}},
		{"file and folder, two store types", verifierWith("    verificationCerts: [/certs/root.pem, /more]\n", "ca:certs", "signingAuthority:sa"),
			[]config.TrustStore{
				{Name: "certs", Type: "ca", Certificates: []config.CertificateSource{{File: "/certs/root.pem"}, {Dir: "/more"}}},
				{Name: "sa", Type: "signingAuthority", Certificates: []config.CertificateSource{{File: "/certs/root.pem"}, {Dir: "/more"}}},
			}},
		{"stores fill what they name, paths the rest", inlineKMP(t) + "---\n" + verifierWith("    verificationCerts: [/more]\n    verificationCertStores:\n      certs: [inline-cert]\n", "ca:certs", "ca:other"),
			[]config.TrustStore{{Name: "certs", Type: "ca"}, {Name: "other", Type: "ca", Certificates: []config.CertificateSource{{Dir: "/more"}}}}},
		{"legacy stores are ca stores; paths serve signingAuthority", inlineKMP(t) + "---\n" + verifierWith("    verificationCerts: [/more]\n    verificationCertStores:\n      certs: [inline-cert]\n", "signingAuthority:certs"),
			[]config.TrustStore{{Name: "certs", Type: "ca"}, {Name: "certs", Type: "signingAuthority", Certificates: []config.CertificateSource{{Dir: "/more"}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convertText(t, tt.text)
			if !res.OK() {
				t.Fatalf("problems: %v", res.Problems)
			}
			got := res.Config.TrustStores
			if len(got) != len(tt.stores) {
				t.Fatalf("trust stores %+v, want %+v", got, tt.stores)
			}
			for i, want := range tt.stores {
				if got[i].Name != want.Name || got[i].Type != want.Type {
					t.Errorf("store %d is %s:%s, want %s:%s", i, got[i].Type, got[i].Name, want.Type, want.Name)
				}
				if want.Certificates != nil && !equalSources(got[i].Certificates, want.Certificates) {
					t.Errorf("store %s:%s certificates %+v, want %+v", want.Type, want.Name, got[i].Certificates, want.Certificates)
				}
			}
			if !findingAt(res.Notes, "spec.parameters.verificationCerts", "mount the same certificates there") {
				t.Errorf("no note on mounting the paths: %v", res.Notes)
			}
		})
	}
}

func equalSources(a, b []config.CertificateSource) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVerificationCertsMalformed(t *testing.T) {
	tests := []struct {
		name, text, path, want string
	}{
		{"not a list", verifierWith("    verificationCerts: /certs\n", "ca:certs"), "spec.parameters.verificationCerts", "not a list"},
		{"a number", verifierWith("    verificationCerts: [3]\n", "ca:certs"), "spec.parameters.verificationCerts[0]", "not a path"},
		{"empty", verifierWith("    verificationCerts: [\"\"]\n", "ca:certs"), "spec.parameters.verificationCerts[0]", "not a path"},
		{"home folder", verifierWith("    verificationCerts: [\"~/.ratify/certs\"]\n", "ca:certs"), "spec.parameters.verificationCerts[0]", "Ratify's home folder"},
		{"neither paths nor stores", verifierWith("", "ca:certs"), "spec.parameters.verificationCertStores", "required"},
		{"legacy store named as signingAuthority without paths", inlineKMP(t) + "---\n" + verifierWith("    verificationCertStores:\n      certs: [inline-cert]\n", "signingAuthority:certs"),
			"spec.parameters.verificationCertStores.certs", "as ca stores only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, tt.text, tt.path, tt.want)
		})
	}
}

const policyHead = "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Policy\nmetadata: {name: ratify-policy}\nspec:\n  type: config-policy\n  parameters:\n"

// TestConfigPolicyAll: Ratify's config policy "all" for Notary Project
// signatures (named, as default, or by Ratify's built-in default) becomes
// verification.requireAllSignatures; "any" does not; no Policy is the
// chart's, default all.
func TestConfigPolicyAll(t *testing.T) {
	base := inlineKMP(t) + "---\n" + verifierDoc
	tests := []struct {
		name   string
		policy string // "" for no Policy resource
		want   bool
		note   string // a note that must be there
	}{
		{"no Policy: the chart's", "", true, "Ratify's Helm chart installs one with artifactVerificationPolicies {default: all}"},
		{"the chart's Policy", "    artifactVerificationPolicies: {default: all}\n", true, ""},
		{"default any", "    artifactVerificationPolicies: {default: any}\n", false, ""},
		{"notation all", "    artifactVerificationPolicies: {\"application/vnd.cncf.notary.signature\": all}\n", true, ""},
		{"notation any over default all", "    artifactVerificationPolicies: {default: all, \"application/vnd.cncf.notary.signature\": any}\n", false, ""},
		{"notation all over default any", "    artifactVerificationPolicies: {default: any, \"application/vnd.cncf.notary.signature\": all}\n", true, ""},
		{"no policies: Ratify's built-in all", "    artifactVerificationPolicies: {}\n", true, "Ratify then requires all"},
		{"no parameters: Ratify's built-in all", "    {}\n", true, "Ratify then requires all"},
		{"a Policy under another name is ignored", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := base
			if tt.policy != "" {
				text += "---\n" + policyHead + tt.policy
			}
			if tt.name == "a Policy under another name is ignored" {
				text += "---\n" + strings.Replace(policyHead, "ratify-policy", "other", 1) + "    artifactVerificationPolicies: {default: any}\n"
			}
			res := convertText(t, text)
			if !res.OK() {
				t.Fatalf("problems: %v", res.Problems)
			}
			if got := res.Config.Verification.RequireAllSignatures; got != tt.want {
				t.Errorf("requireAllSignatures = %v, want %v", got, tt.want)
			}
			if tt.note != "" && !findingAt(res.Notes, "", tt.note) && !findingAt(res.Notes, "spec.parameters.artifactVerificationPolicies", tt.note) {
				t.Errorf("no note saying %q: %v", tt.note, res.Notes)
			}
			out, err := res.YAML()
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Parse(out)
			if err != nil {
				t.Fatalf("the output does not load: %v\n%s", err, out)
			}
			if cfg.Verification.RequireAllSignatures != tt.want {
				t.Errorf("requireAllSignatures lost on the way out:\n%s", out)
			}
		})
	}
}

func TestConfigPolicyMalformed(t *testing.T) {
	base := inlineKMP(t) + "---\n" + verifierDoc + "---\n" + policyHead
	tests := []struct {
		name, params, path, want string
	}{
		{"neither any nor all", "    artifactVerificationPolicies: {default: most}\n", "spec.parameters.artifactVerificationPolicies.default", "not any or all"},
		{"not a string", "    artifactVerificationPolicies: {default: 1}\n", "spec.parameters.artifactVerificationPolicies.default", "not any or all"},
		{"policies not an object", "    artifactVerificationPolicies: all\n", "spec.parameters.artifactVerificationPolicies", "not an object"},
		{"another artifact type", "    artifactVerificationPolicies: {\"application/spdx+json\": all}\n", "spec.parameters.artifactVerificationPolicies.application/spdx+json", "does not verify yet"},
		{"passthrough", "    passthroughEnabled: true\n", "spec.parameters.passthroughEnabled", "not supported"},
		{"misspelt field", "    artifactVerificationPolicy: {default: all}\n", "spec.parameters.artifactVerificationPolicy", "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, base+tt.params, tt.path, tt.want)
		})
	}
}

// TestVaultCertificateWithoutVersion: a Key Vault certificate named without
// a version, in each resource that names one, is its current version only
// (currentVersionOnly), as Ratify reads it.
func TestVaultCertificateWithoutVersion(t *testing.T) {
	verifier := strings.Replace(verifierDoc, "inline-cert", "kv", 1)
	tests := []struct {
		name, text string
	}{
		{"KeyManagementProvider", verifier + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: KeyManagementProvider\nmetadata: {name: kv}\nspec:\n  type: azurekeyvault\n  parameters:\n    vaultURI: https://v.vault.azure.net/\n    tenantID: t\n    clientID: c\n    certificates: [{name: signer}]\n"},
		{"CertificateStore", verifier + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata: {name: kv}\nspec:\n  provider: azurekeyvault\n  parameters:\n    vaultURI: https://v.vault.azure.net/\n    tenantID: t\n    clientID: c\n    certificates: |\n      array:\n        - |\n          certificateName: signer\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convertText(t, tt.text)
			if !res.OK() {
				t.Fatalf("problems: %v", res.Problems)
			}
			src := res.Config.TrustStores[0].Certificates[0]
			if src.Key != "https://v.vault.azure.net/certificates/signer" || !src.CurrentVersionOnly {
				t.Errorf("source %+v, want the certificate's current version only", src)
			}
			if !findingAt(res.Notes, "spec.parameters.certificates[0]", "Ratify trusts its current version only") && !findingAt(res.Notes, "spec.parameters.certificates.array[0]", "Ratify trusts its current version only") {
				t.Errorf("no note: %v", res.Notes)
			}
		})
	}
	keysOnly := verifier + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: KeyManagementProvider\nmetadata: {name: kv}\nspec:\n  type: azurekeyvault\n  parameters:\n    vaultURI: https://v.vault.azure.net/\n    tenantID: t\n    clientID: c\n    keys: [{name: cosign-key}]\n"
	wantProblem(t, keysOnly, "spec.parameters.certificates", "trusts a provider's certificates, never its keys")
	bad := verifier + "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: KeyManagementProvider\nmetadata: {name: kv}\nspec:\n  type: azurekeyvault\n  parameters:\n    vaultURI: https://v.vault.azure.net/\n    tenantID: t\n    clientID: c\n    certificates: [{name: \"not a name\"}]\n"
	if res := convertText(t, bad); res.OK() || !findingAt(res.Problems, "spec.parameters.certificates[0]", "") {
		t.Errorf("a name Key Vault cannot hold converted: %v", res.Problems)
	}
}

// TestCosignNeedsCosignEnabled: Ratify's ORAS store lists an image's
// cosign signature only with cosignEnabled; without it a cosign Verifier
// never runs, which hallmark cannot copy, so it is a problem. No Store at
// all is the chart's, which sets it.
func TestCosignNeedsCosignEnabled(t *testing.T) {
	base := inlineKMP(t) + "---\n" + verifierDoc + "---\n" + cosignDoc("    trustPolicies:\n      - {name: p, scopes: [\"*\"], keys: [{file: /k.pub}], tLogVerify: false}\n")
	store := "---\napiVersion: config.ratify.deislabs.io/v1beta1\nkind: Store\nmetadata: {name: store-oras}\nspec:\n  name: oras\n  parameters:\n"
	tests := []struct {
		name, text string
		ok         bool
	}{
		{"cosignEnabled", base + store + "    cosignEnabled: true\n", true},
		{"cosignEnabled as a string", base + store + "    cosignEnabled: \"true\"\n", true},
		{"no Store: the chart's", base, true},
		{"not set", base + store + "    useHttp: true\n", false},
		{"false", base + store + "    cosignEnabled: false\n", false},
		{"inside authProvider, where Ratify ignores it", base + store + "    authProvider: {name: azureWorkloadIdentity, clientID: c, cosignEnabled: true}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convertText(t, tt.text)
			if tt.ok && !res.OK() {
				t.Fatalf("problems: %v", res.Problems)
			}
			if !tt.ok && !findingAt(res.Problems, "spec.parameters.cosignEnabled", "the cosign Verifier never runs") {
				t.Fatalf("no problem about cosignEnabled; problems: %v", res.Problems)
			}
		})
	}
	// Without a cosign Verifier it changes nothing.
	if res := convertText(t, inlineKMP(t)+"---\n"+verifierDoc+store+"    useHttp: true\n"); !res.OK() {
		t.Errorf("notation only, cosignEnabled unset: %v", res.Problems)
	}
}

// TestSkipLevelIsAProblem: a statement of level skip stops the import with
// or without a cosign Verifier, since Ratify admitted nothing under it and
// hallmark would admit everything; other levels import.
func TestSkipLevelIsAProblem(t *testing.T) {
	for _, level := range []string{"skip", "strict", "permissive", "audit"} {
		t.Run(level, func(t *testing.T) {
			res := convertText(t, inlineKMP(t)+"---\n"+strings.Replace(verifierDoc, `level: strict`, "level: "+level, 1))
			skipped := findingAt(res.Problems, "", `has level skip: Ratify v1.4.6 admits nothing`)
			if skipped != (level == "skip") || res.OK() == (level == "skip") {
				t.Errorf("level %s: OK %v, problems %v", level, res.OK(), res.Problems)
			}
		})
	}
}
