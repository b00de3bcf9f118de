package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeServing(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "serving.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadServingRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, text, path, want string
	}{
		{"trust policy", "trustPolicy: {file: tp.json}\n", "trustPolicy", "comes from Ratify's resources"},
		{"inline trust policy", "trustPolicy: {inline: {version: \"1.0\", trustPolicies: []}}\n", "trustPolicy", "trustPolicyDoc"},
		{"trust stores", "trustStores: [{name: s, type: ca, certificates: [{file: r.pem}]}]\n", "trustStores", "CertificateStore"},
		{"trust store folder", "trustStoreDir: /ts\n", "trustStoreDir", "comes from Ratify's resources"},
		{"refresh", "trustStoreRefresh: 5m\n", "trustStoreRefresh", "refreshInterval"},
		{"cosign", "cosign: {trustedRootFile: root.json}\n", "cosign", "--ratify-cosign-trusted-root"},
		{"signature kinds", "signatureKinds: {default: each}\n", "signatureKinds", "the Verifiers present"},
		{"require all", "verification: {requireAllSignatures: true}\n", "verification.requireAllSignatures", "artifactVerificationPolicies"},
		{"registries", "registries: [{hosts: [ghcr.io], plainHTTP: true}]\n", "registries", "authProvider"},
		{"bad mode", "mode: maybe\n", "mode", "must be deny or audit"},
		{"bad deadline", "verification: {deadline: 60s}\n", "verification.deadline", "longer than"},
		{"bad exemption", "admission: {exemptImages: [\"\"]}\n", "admission.exemptImages[0]", ""},
		{"bad allowed registry", "allowedRegistries: [\"https://ghcr.io\"]\n", "allowedRegistries[0]", "URL scheme"},
		{"unknown field", "admision: {}\n", "admision", "admission"},
		{"wrong type", "admission: {exemptImages: registry.k8s.io}\n", "admission.exemptImages", "list"},
		{"not YAML", "mode: [\n", "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadServing(writeServing(t, tt.text))
			var e *Error
			if err == nil || !errors.As(err, &e) {
				t.Fatalf("LoadServing = %v, want an *Error", err)
			}
			for _, p := range e.Problems {
				if p.Path == tt.path && strings.Contains(p.Message, tt.want) {
					return
				}
			}
			if tt.path == "" && len(e.Problems) > 0 {
				return
			}
			t.Errorf("no problem at %q saying %q: %v", tt.path, tt.want, err)
		})
	}
}

func TestLoadServingAndTake(t *testing.T) {
	base, err := LoadServing(writeServing(t, `listen: ":9443"
tls: {certFile: tls.crt, keyFile: tls.key}
mode: audit
admission:
  excludeNamespaces: [kube-system, hallmark]
  exemptImages: ["registry.k8s.io/**"]
  namespaceModes: {staging: deny}
  pinDigestOnly: true
  requireDigest: false
verification:
  deadline: 2s
  cache: {maxEntries: 50000}
allowedRegistries: ["*.azurecr.io"]
`))
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(base.TLS.CertFile) {
		t.Errorf("tls.certFile %q not resolved against the file's folder", base.TLS.CertFile)
	}
	// What the resources made: a trust policy, stores, registries and
	// requireAllSignatures, which the file does not touch.
	c := &Config{
		TrustPolicy:  TrustPolicy{Inline: json.RawMessage(`{"version":"1.0"}`)},
		TrustStores:  []TrustStore{{Name: "s", Type: StoreTypeCA}},
		Registries:   []Registry{{Hosts: []string{"myregistry.azurecr.io"}}},
		Verification: Verification{RequireAllSignatures: true},
	}
	c.TakeServing(base)
	switch {
	case c.Listen != ":9443" || c.Mode != ModeAudit || c.TLS.KeyFile != base.TLS.KeyFile:
		t.Errorf("server settings not taken: %q %q %q", c.Listen, c.Mode, c.TLS.KeyFile)
	case len(c.Admission.ExemptImages) != 1 || !c.Admission.PinDigestOnly || c.Admission.RequireDigest == nil || *c.Admission.RequireDigest || c.Admission.NamespaceModes["staging"] != ModeDeny:
		t.Errorf("admission not taken: %+v", c.Admission)
	case c.Verification.Deadline.Duration != 2*time.Second || c.Verification.Cache.MaxEntries != 50000:
		t.Errorf("verification not taken: %+v", c.Verification)
	case !c.Verification.RequireAllSignatures:
		t.Error("requireAllSignatures, the resources', was dropped")
	case len(c.TrustStores) != 1 || len(c.Registries) != 1 || string(c.TrustPolicy.Inline) == "":
		t.Error("the resources' trust or registries were touched")
	case len(c.AllowedRegistries) != 1:
		t.Errorf("allowedRegistries not taken: %q", c.AllowedRegistries)
	}

	// A file without TLS, listen or mode keeps the resources' (the import
	// names the chart's TLS files).
	kept := &Config{Listen: ":8443", Mode: ModeDeny, TLS: TLS{CertFile: "/etc/hallmark/tls/tls.crt", KeyFile: "/etc/hallmark/tls/tls.key"}}
	kept.TakeServing(&Config{Admission: Admission{PinDigestOnly: true}})
	if kept.Listen != ":8443" || kept.Mode != ModeDeny || kept.TLS.CertFile != "/etc/hallmark/tls/tls.crt" || kept.TLS.KeyFile != "/etc/hallmark/tls/tls.key" || !kept.Admission.PinDigestOnly {
		t.Errorf("a file without server settings: %+v", kept)
	}
}
