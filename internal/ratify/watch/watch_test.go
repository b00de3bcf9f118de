package watch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

func TestServesRatifyResourcesFromTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real kube-apiserver; runs without -short")
	}
	cp := testpeers.StartControlPlane(t)
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := &Source{Client: dyn, Namespace: "gatekeeper-system", Overlay: func(c *config.Config) {}}
	if _, err := src.Load(ctx); err == nil || !strings.Contains(err.Error(), "hallmark config crds") {
		t.Fatalf("with no CRDs: %v", err)
	}

	testpeers.ApplyYAML(t, dyn, string(ratify.CRDs()))
	testpeers.ApplyYAML(t, dyn, "apiVersion: v1\nkind: Namespace\nmetadata: {name: gatekeeper-system}\n")
	waitServed(t, dyn, ratify.KindVerifier)

	var kmp bytes.Buffer
	kmp.WriteString("apiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata:\n  name: certs-inline\n  namespace: gatekeeper-system\nspec:\n  provider: inline\n  parameters:\n    value: |\n")
	for _, line := range strings.Split(strings.TrimSpace(string(testCA(t))), "\n") {
		kmp.WriteString("      " + line + "\n")
	}
	testpeers.ApplyYAML(t, dyn, `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Store
metadata: {name: store-oras}
spec:
  name: oras
  parameters:
    authProvider: {name: azureWorkloadIdentity, clientID: 1b3b2c4d-0000-4000-8000-000000000001, cosignEnabled: true}
---
`+kmp.String()+`---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-notation}
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCertStores:
      certs: [certs-inline]
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - name: default
          registryScopes: ["*"]
          signatureVerification: {level: strict}
          trustStores: ["ca:certs"]
          trustedIdentities: ["*"]
`)
	cfg, err := src.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.TrustStores) != 1 || cfg.TrustStores[0].Name != "certs" || cfg.Registries[0].Credentials.Azure == nil {
		t.Fatalf("configuration %+v", cfg)
	}
	status := func(kind, ns, name string) map[string]any {
		t.Helper()
		c := dyn.Resource(gvr(kind))
		var o *unstructured.Unstructured
		var err error
		if ns != "" {
			o, err = c.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		} else {
			o, err = c.Get(ctx, name, metav1.GetOptions{})
		}
		if err != nil {
			t.Fatal(err)
		}
		s, _ := o.Object["status"].(map[string]any)
		return s
	}
	for _, r := range []struct{ kind, ns, name string }{{ratify.KindStore, "", "store-oras"}, {ratify.KindCertificateStore, "gatekeeper-system", "certs-inline"}, {ratify.KindVerifier, "", "verifier-notation"}} {
		if s := status(r.kind, r.ns, r.name); s["issuccess"] != true {
			t.Errorf("%s/%s status %v, want issuccess true", r.kind, r.name, s)
		}
	}

	// A serving file (serve --ratify-resources --config): its settings are
	// laid over what the resources made, its problems stay out of their
	// status, and a change to it is a change.
	baseFile := filepath.Join(t.TempDir(), "serving.yaml")
	writeBase := func(text string) {
		t.Helper()
		if err := os.WriteFile(baseFile, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeBase("mode: audit\nadmission: {exemptImages: [\"registry.k8s.io/**\"]}\nverification: {deadline: 2s}\n")
	withBase := &Source{Client: dyn, Namespace: "gatekeeper-system", BaseFile: baseFile, Overlay: func(c *config.Config) {}}
	based, err := withBase.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if based.Mode != config.ModeAudit || len(based.Admission.ExemptImages) != 1 || based.Verification.Deadline.Duration != 2*time.Second || len(based.TrustStores) != 1 {
		t.Errorf("with the serving file: mode %q, admission %+v, verification %+v, %d trust stores", based.Mode, based.Admission, based.Verification, len(based.TrustStores))
	}
	if pending := withBase.Pending(); pending.Mode != config.ModeAudit {
		t.Errorf("pending configuration ignores the serving file: mode %q", pending.Mode)
	}
	withBase.mu.Lock()
	moved := withBase.baseMoved()
	withBase.mu.Unlock()
	if moved {
		t.Error("the serving file counts as changed with nothing written")
	}
	writeBase("mode: audit\ntrustPolicy: {file: /etc/tp.json}\n")
	withBase.mu.Lock()
	moved = withBase.baseMoved()
	withBase.mu.Unlock()
	if !moved {
		t.Error("a change to the serving file is not a change")
	}
	if _, err := withBase.Load(ctx); err == nil || !strings.Contains(err.Error(), "trustPolicy: comes from Ratify's resources") || !strings.Contains(err.Error(), baseFile) {
		t.Errorf("Load with a trust policy in the serving file: %v", err)
	}
	if s := status(ratify.KindVerifier, "", "verifier-notation"); s["issuccess"] != true {
		t.Errorf("the serving file's problem went into the Verifier's status: %v", s)
	}

	// Status writes are not changes; a spec change is.
	fp := src.fingerprint
	if _, _, again, _ := src.list(ctx); again != fp {
		t.Error("writing status changed the fingerprint: every status write would reload")
	}

	// A verifier with an unknown field: no configuration, and its status
	// says why.
	v, err := dyn.Resource(gvr(ratify.KindVerifier)).Get(ctx, "verifier-notation", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(v.Object, "x", "spec", "parameters", "trustPolicyDocs")
	if _, err := dyn.Resource(gvr(ratify.KindVerifier)).Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, again, _ := src.list(ctx); again == fp {
		t.Error("a spec change did not change the fingerprint")
	}
	_, err = src.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "spec.parameters.trustPolicyDocs: unknown field") {
		t.Fatalf("Load with an unknown field: %v", err)
	}
	s := status(ratify.KindVerifier, "", "verifier-notation")
	if s["issuccess"] != false || !strings.Contains(s["brieferror"].(string), "trustPolicyDocs") {
		t.Errorf("verifier status %v", s)
	}

	// A cosign Verifier beside it, whose trust policy checks the
	// transparency log (tLogVerify true by default): it converts only
	// with a trusted root, which Source passes on.
	if v, err = dyn.Resource(gvr(ratify.KindVerifier)).Get(ctx, "verifier-notation", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	unstructured.RemoveNestedField(v.Object, "spec", "parameters", "trustPolicyDocs")
	if _, err := dyn.Resource(gvr(ratify.KindVerifier)).Update(ctx, v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Ratify runs a cosign Verifier only when the Store lists cosign
	// signatures (cosignEnabled, a Store parameter).
	st, err := dyn.Resource(gvr(ratify.KindStore)).Get(ctx, "store-oras", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(st.Object, true, "spec", "parameters", "cosignEnabled"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(gvr(ratify.KindStore)).Update(ctx, st, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testpeers.ApplyYAML(t, dyn, `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata: {name: verifier-cosign}
spec:
  name: cosign
  artifactTypes: application/vnd.dev.cosign.artifact.sig.v1+json
  parameters:
    trustPolicies:
      - {name: default, scopes: ["*"], keys: [{file: /etc/cosign/cosign.pub}]}
`)
	if _, err := src.Load(ctx); err == nil || !strings.Contains(err.Error(), "--ratify-cosign-trusted-root") {
		t.Fatalf("Load of a cosign Verifier with tLogVerify and no trusted root: %v", err)
	}
	withRoot := &Source{Client: dyn, Namespace: "gatekeeper-system", CosignTrustedRootFile: "/etc/hallmark/trusted_root.json", Overlay: func(c *config.Config) {}}
	cfg, err = withRoot.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Cosign.TrustedRootFile != "/etc/hallmark/trusted_root.json" || len(cfg.Cosign.Policies) != 1 || !cfg.Cosign.Policies[0].RequireTransparencyLog || cfg.SignatureKindDefault() != config.KindEach {
		t.Errorf("cosign %+v, signature kinds %s", cfg.Cosign, cfg.SignatureKindDefault())
	}
	if s := status(ratify.KindVerifier, "", "verifier-cosign"); s["issuccess"] != true {
		t.Errorf("cosign verifier status %v", s)
	}
}

// testCA is a CA certificate made for the test.
func testCA(t *testing.T) []byte {
	t.Helper()
	ca, _, _, err := testpeers.ServingCertificate("ratify", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
