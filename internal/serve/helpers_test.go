package serve

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/config"
)

// The configuration these tests start from, as internal/config's tests do.
const baseYAML = `
tls: {certFile: tls.crt, keyFile: tls.key}
trustStores:
  - name: prod
    type: ca
    certificates: [{file: ca.pem}]
trustPolicy:
  inline:
    version: "1.0"
    trustPolicies:
      - name: p
        registryScopes: ["*"]
        signatureVerification: {level: strict}
        trustStores: ["ca:prod"]
        trustedIdentities: ["*"]
`

func base(t *testing.T) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(baseYAML))
	if err != nil {
		t.Fatalf("base configuration: %v", err)
	}
	return c
}

func pemOf(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// problemsOf returns the problems of an *Error as "path: message".
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *config.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if !errors.Is(err, config.ErrInvalidConfig) {
		t.Fatalf("error does not match config.ErrInvalidConfig")
	}
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.String()
	}
	return out
}

// wantProblems checks that got holds exactly one problem per want, each
// starting with the wanted "path: " and containing the wanted text.
func wantProblems(t *testing.T, got []string, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n  %s", len(got), len(want), strings.Join(got, "\n  "))
	}
	for path, text := range want {
		found := slices.ContainsFunc(got, func(g string) bool {
			return strings.HasPrefix(g, path+": ") && strings.Contains(g, text)
		})
		if !found {
			t.Errorf("no problem %q containing %q in:\n  %s", path, text, strings.Join(got, "\n  "))
		}
	}
}

// TestAdmissionPolicyRequireDigest: deny mode requires digests and takes
// Gatekeeper key prefixes only from authenticated callers, unless the
// configuration says otherwise.
func TestAdmissionPolicyRequireDigest(t *testing.T) {
	c, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	if p := AdmissionPolicy(c); p.AllowUnpinnedTags || p.TrustNamespacePrefixFromAnyCaller {
		t.Fatalf("the example's policy %+v allows unpinned tags or trusts every caller's namespace prefix", p)
	}
	no := false
	c.Admission.RequireDigest = &no
	c.Admission.TrustNamespacePrefixFromAnyCaller = true
	if p := AdmissionPolicy(c); !p.AllowUnpinnedTags || !p.TrustNamespacePrefixFromAnyCaller {
		t.Errorf("policy %+v, want unpinned tags allowed and the prefix trusted", p)
	}
}

func TestAdmissionPolicy(t *testing.T) {
	c, err := config.Parse(config.Example())
	if err != nil {
		t.Fatal(err)
	}
	p := AdmissionPolicy(c)
	if err := p.Validate(); err != nil {
		t.Fatalf("a valid configuration gives an invalid admission policy: %v", err)
	}
	if p.ModeFor("staging") != admission.ModeAudit || p.ModeFor("prod") != admission.ModeDeny ||
		p.Deadline != c.Verification.Deadline.Duration || !slices.Equal(p.ExcludeNamespaces, []string{"kube-system"}) ||
		!admission.MatchImage(p.ExemptImages[0], "registry.k8s.io/pause:3.9") {
		t.Fatalf("policy %+v does not follow the configuration", p)
	}
	p.ExcludeNamespaces[0] = "changed"
	p.NamespaceModes["staging"] = admission.ModeDeny
	if c.Admission.ExcludeNamespaces[0] != "kube-system" || c.Admission.NamespaceModes["staging"] != config.ModeAudit {
		t.Fatal("the policy shares memory with the configuration")
	}
}
