package watch

import (
	"context"
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

// A cluster configured for Ratify v2 holds only an Executor
// (config.ratify.sh/v2alpha1, and only that CRD): serve --ratify-resources
// serves from it and writes its status as Ratify v2 does (succeeded,
// error, briefError); a problem in it keeps the last good generation and
// says why in its status.
func TestServesExecutorFromTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real kube-apiserver; runs without -short")
	}
	cp := testpeers.StartControlPlane(t)
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Only the Executor's CRD, as Ratify v2's chart installs.
	for _, doc := range strings.Split(string(ratify.CRDs()), "\n---\n") {
		if strings.Contains(doc, "name: executors.config.ratify.sh") {
			testpeers.ApplyYAML(t, dyn, doc)
		}
	}
	waitServed(t, dyn, ratify.KindExecutor)

	var certs strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(testCA(t))), "\n") {
		certs.WriteString("                " + line + "\n")
	}
	testpeers.ApplyYAML(t, dyn, `apiVersion: config.ratify.sh/v2alpha1
kind: Executor
metadata: {name: ratify}
spec:
  scopes: ["myregistry.azurecr.io/app"]
  stores:
    - type: registry-store
      parameters:
        credential: {provider: azure, clientID: 1b3b2c4d-0000-4000-8000-000000000001, tenantID: 72f988bf-86f1-41af-91ab-2d7cd011db47}
  verifiers:
    - name: notation-1
      type: notation
      parameters:
        trustedIdentities: ["x509.subject: CN=release, O=Example, ST=WA, C=US"]
        certificates:
          - type: ca
            inline: |
`+certs.String())
	src := &Source{Client: dyn, Namespace: "gatekeeper-system", Overlay: func(c *config.Config) {
		c.TLS.CertFile, c.TLS.KeyFile = "/tls.crt", "/tls.key"
	}}
	cfg, err := src.Load(ctx)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(cfg.TrustStores) != 1 || !strings.Contains(string(cfg.TrustPolicy.Inline), "myregistry.azurecr.io/app") {
		t.Errorf("trust stores %+v, trust policy %s", cfg.TrustStores, cfg.TrustPolicy.Inline)
	}
	if az := cfg.Registries[0].Credentials.Azure; az == nil || az.ClientID != "1b3b2c4d-0000-4000-8000-000000000001" {
		t.Errorf("registries %+v", cfg.Registries)
	}
	status := func() map[string]any {
		t.Helper()
		o, err := dyn.Resource(gvr(ratify.KindExecutor)).Get(ctx, "ratify", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s, _, _ := unstructured.NestedMap(o.Object, "status")
		return s
	}
	if s := status(); s["succeeded"] != true || s["issuccess"] != nil {
		t.Errorf("status %v, want succeeded true (Ratify v2's field)", s)
	}

	// A policy enforcer hallmark does not import: a problem, in the status.
	o, err := dyn.Resource(gvr(ratify.KindExecutor)).Get(ctx, "ratify", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(o.Object, map[string]any{"type": "threshold-policy"}, "spec", "policyEnforcer"); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(gvr(ratify.KindExecutor)).Update(ctx, o, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Load(ctx); err == nil || !strings.Contains(err.Error(), "spec.policyEnforcer") {
		t.Fatalf("Load with a policy enforcer: %v", err)
	}
	s := status()
	if brief, _ := s["briefError"].(string); s["succeeded"] != false || !strings.Contains(brief, "spec.policyEnforcer") || !strings.Contains(s["error"].(string), "threshold-policy") {
		t.Errorf("status %v, want succeeded false and the policy enforcer in briefError and error", s)
	}
}

// waitServed waits until the API server serves kind's resources: a CRD
// takes a moment to be established.
func waitServed(t *testing.T, dyn dynamic.Interface, kind string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := dyn.Resource(gvr(kind)).List(context.Background(), metav1.ListOptions{})
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s CRD is not served: %v", kind, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
