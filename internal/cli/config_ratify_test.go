package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/serve"
)

// The reference walkthrough's three files, with only their $VARIABLES
// substituted, convert with no problem: exit 0, the configuration on
// stdout, the cosignEnabled note on stderr.
func TestImportRatifySeed(t *testing.T) {
	vars := map[string]string{
		"IDENTITY_CLIENT_ID": "1b3b2c4d-0000-4000-8000-000000000001",
		"AKV_URI":            "https://hallmark-akv.vault.azure.net/",
		"CERT_NAME":          "hallmark-signing",
		"VERSION_ID":         "c53ad379d88d4cbe87c2bd3af2c29140",
		"TENANT_ID":          "72f988bf-86f1-41af-91ab-2d7cd011db47",
	}
	dir := t.TempDir()
	var files []string
	for _, name := range []string{"store_config.yaml", "akv-certificate-store.yaml", "akv-verifier.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "ratify", "testdata", "seed", name))
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(os.Expand(string(data), func(k string) string { return vars[k] })), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	// The seed with a cosign Verifier beside the notation one: the trust
	// policy's tLogVerify (true by default) needs --cosign-trusted-root;
	// with it, exit 0 and a note on bundles, once the Store sets
	// cosignEnabled where Ratify reads it (the seed's, inside authProvider,
	// leaves the cosign Verifier unused by Ratify: a problem).
	cosignDir := t.TempDir()
	cosignStore := filepath.Join(cosignDir, "store_config.yaml")
	seedStore, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cosignStore, []byte(strings.Replace(string(seedStore), "  parameters:\n", "  parameters:\n    cosignEnabled: true\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cosignFiles := append([]string{cosignStore}, files[1:]...)
	cosignVerifier := filepath.Join(cosignDir, "cosign-verifier.yaml")
	if err := os.WriteFile(cosignVerifier, []byte(`apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-cosign}
spec:
  name: cosign
  artifactTypes: application/vnd.dev.cosign.artifact.sig.v1+json
  parameters:
    trustPolicies:
      - {name: default, scopes: ["*"], keys: [{file: /etc/cosign/cosign.pub}]}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := run(t, nil, append(append([]string{"config", "import-ratify"}, files...), cosignVerifier, "--cosign-trusted-root", "/etc/hallmark/trusted_root.json")...); code != 1 || !strings.Contains(stderr, "spec.parameters.cosignEnabled: not true") {
		t.Errorf("cosign verifier behind the seed's Store: exit %d\n%s", code, stderr)
	}
	withCosign := append(append([]string{"config", "import-ratify"}, cosignFiles...), cosignVerifier)
	if _, stderr, code := run(t, nil, withCosign...); code != 1 || !strings.Contains(stderr, "spec.parameters.trustPolicies[0].tLogVerify: tLogVerify is not set") {
		t.Errorf("cosign verifier without --cosign-trusted-root: exit %d\n%s", code, stderr)
	}
	stdout, stderr, code := run(t, nil, append(withCosign, "--cosign-trusted-root", "/etc/hallmark/trusted_root.json")...)
	if code != 0 || !strings.Contains(stderr, "plus Sigstore bundles made with the same keys") {
		t.Errorf("cosign verifier with --cosign-trusted-root: exit %d\n%s", code, stderr)
	}
	if cfg, err := config.Parse([]byte(stdout)); err != nil || cfg.Cosign.TrustedRootFile != "/etc/hallmark/trusted_root.json" || !cfg.Cosign.Policies[0].RequireTransparencyLog || cfg.SignatureKindDefault() != config.KindEach {
		t.Errorf("configuration (%v):\n%s", err, stdout)
	}
	for name, args := range map[string][]string{"files": files, "folder": {dir}} {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := run(t, nil, append([]string{"config", "import-ratify"}, args...)...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if strings.Contains(stderr, "problem:") || !strings.Contains(stderr, "note: Store/store-oras") || !strings.Contains(stderr, "cosignEnabled") {
				t.Errorf("stderr:\n%s", stderr)
			}
			if _, err := config.Parse([]byte(stdout)); err != nil {
				t.Fatalf("stdout is not a valid configuration: %v\n%s", err, stdout)
			}
			if !strings.Contains(stdout, "key: https://hallmark-akv.vault.azure.net/certificates/hallmark-signing/c53ad379d88d4cbe87c2bd3af2c29140") {
				t.Errorf("stdout:\n%s", stdout)
			}
		})
	}
}

func TestImportRatifyProblems(t *testing.T) {
	doc := "apiVersion: config.ratify.deislabs.io/v1beta1\nkind: Verifier\nmetadata: {name: v}\nspec:\n  name: cosign\n  artifactTypes: application/vnd.dev.cosign.artifact.sig.v1+json\n"
	stdout, stderr, code := runIn(t, nil, doc, "config", "import-ratify", "-")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "problem: Verifier/v ((stdin)): spec.parameters.key: the legacy form without a key accepts a keyless signature from any identity") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if !strings.Contains(stdout, "tls:") {
		t.Errorf("the configuration, as far as it goes, is not printed:\n%s", stdout)
	}
	if _, stderr, code := run(t, nil, "config", "import-ratify"); code != 2 || !strings.Contains(stderr, "expects at least one FILE") {
		t.Errorf("no arguments: exit %d\n%s", code, stderr)
	}
}

func TestConfigCRDs(t *testing.T) {
	stdout, _, code := run(t, nil, "config", "crds")
	if code != 0 || !strings.Contains(stdout, "verifiers.config.ratify.deislabs.io") {
		t.Fatalf("exit %d\n%s", code, stdout)
	}
}

// TestServeRatifyResourcesConfig: with --ratify-resources a --config file
// says how to serve; what the resources give is refused at its path, with
// every other problem of the file, before anything is served.
func TestServeRatifyResourcesConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "serving.yaml")
	if err := os.WriteFile(file, []byte(`mode: sometimes
admission: {exemptImages: ["registry.k8s.io/**"]}
verification: {deadline: 2s, requireAllSignatures: true}
trustPolicy: {file: trustpolicy.json}
trustStores: [{name: s, type: ca, certificates: [{file: root.pem}]}]
registries: [{hosts: [ghcr.io]}]
signatureKinds: {default: any}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := run(t, nil, "serve", "--ratify-resources", "--kubeconfig", filepath.Join(dir, "none"), "--config", file)
	for _, want := range []string{
		"mode: \"sometimes\" must be deny or audit",
		"trustPolicy: comes from Ratify's resources with --ratify-resources: leave it out of this file",
		"trustStores: comes from Ratify's resources",
		"registries: comes from Ratify's resources",
		"signatureKinds: comes from Ratify's resources",
		"verification.requireAllSignatures: comes from Ratify's resources",
	} {
		if code == 0 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, want a failure saying %q\n%s", code, want, stderr)
		}
	}
}

func TestServeRatifyResourcesFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--ratify-resources", "--tls-cert-file", "a", "--tls-key-file", "b", "--trust-store", "ts"}, "leave out --trust-policy and --trust-store"},
		{[]string{"serve", "--namespace", "x", "--config", "c.yaml"}, "--namespace is for --ratify-resources"},
		{[]string{"serve", "--ratify-cosign-trusted-root", "r.json", "--config", "c.yaml"}, "--ratify-cosign-trusted-root is for --ratify-resources"},
	} {
		_, stderr, code := run(t, nil, tt.args...)
		if code != 2 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, want 2 saying %q\n%s", tt.args, code, tt.want, stderr)
		}
	}
}

// TestServeAdmissionFlags: --require-digest and --exclude-namespaces set
// what Ratify's resources cannot (with --ratify-resources they are the
// only way), over a configuration and its defaults alike.
func TestServeAdmissionFlags(t *testing.T) {
	for _, tt := range []struct {
		args        []string
		wantRequire *bool
		wantExclude []string
	}{
		{args: nil, wantRequire: nil, wantExclude: []string{"kube-system"}},
		{args: []string{"--require-digest=false", "--exclude-namespaces", "kube-system,gatekeeper-system"}, wantRequire: new(false), wantExclude: []string{"kube-system", "gatekeeper-system"}},
		{args: []string{"--require-digest", "--exclude-namespaces="}, wantRequire: new(true), wantExclude: []string{}},
	} {
		o := &serveOptions{}
		fl := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		o.addFlags(fl)
		if err := fl.Parse(tt.args); err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		cfg := config.Default()
		o.overlay(fl)(cfg)
		cfg.ApplyDefaults()
		got := cfg.Admission
		if (got.RequireDigest == nil) != (tt.wantRequire == nil) || (got.RequireDigest != nil && *got.RequireDigest != *tt.wantRequire) {
			t.Errorf("%v: requireDigest %v, want %v", tt.args, got.RequireDigest, tt.wantRequire)
		}
		if !slices.Equal(got.ExcludeNamespaces, tt.wantExclude) {
			t.Errorf("%v: excludeNamespaces %q, want %q", tt.args, got.ExcludeNamespaces, tt.wantExclude)
		}
		if p := serve.AdmissionPolicy(cfg); p.AllowUnpinnedTags != (tt.wantRequire != nil && !*tt.wantRequire) {
			t.Errorf("%v: the admission policy allows unpinned tags: %v", tt.args, p.AllowUnpinnedTags)
		}
	}
}
