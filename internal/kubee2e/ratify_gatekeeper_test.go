package kubee2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// The reference setup's admission path: Gatekeeper with Ratify's Provider
// (as Ratify's chart writes it: ratify-provider, the verify endpoint, the
// chart's 5 s timeout) and Ratify's default ConstraintTemplate and sample
// constraint, unchanged, in front of hallmark serve --ratify-resources,
// which is configured only by the reference Ratify resources (in Ratify's
// own CRDs, their status written to its subresource) and reads the
// private registry by workload identity (acrWorld). A signed pod is
// admitted, an unsigned one denied with Ratify's template's message.
func TestRatifyResourcesGatekeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Gatekeeper and a Kubernetes control plane; runs without -short")
	}
	ctx := context.Background()
	testpeers.GatekeeperPath(t) // built before the cluster starts
	library := testpeers.RatifyLibrary(t)
	c := newCluster(t)
	s := newSandbox(t)
	w := newACRWorld(t, s)

	root, passDigest := w.signedImages(t, s)
	pass, fail := w.host+"/nginx@"+passDigest, w.host+"/nginx:fail"

	gkCA, gkCert, gkKey, err := testpeers.ServingCertificate("gatekeeper", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dyn, create := startGatekeeper(t, c, s, gkCA, gkCert, gkKey)
	// The reference cluster has Ratify's own CRDs.
	applyRatifysOwnCRDs(t, dyn)
	testpeers.ApplyYAML(t, dyn, ratifyACRResources(w.host, root))

	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.env = w.env
	// Gatekeeper presents its webhook certificate to providers; hallmark
	// requires it (mutual TLS), as docs/deploy.md advises.
	srv := s.serve(caPEM, "--ratify-resources", "--kubeconfig", c.cp.Kubeconfig, "--namespace", nsGatekeeper,
		"--tls-cert-file", s.writeFile("tls.crt", certPEM), "--tls-key-file", s.writeFile("tls.key", keyPEM),
		"--client-ca-file", s.writeFile("gatekeeper-ca.crt", gkCA))
	checkRatifyStatus(t, dyn, srv.logs)

	create(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "Provider",
		"metadata": map[string]any{"name": "ratify-provider"},
		"spec": map[string]any{"url": srv.url + "/ratify/gatekeeper/v1/verify", "timeout": int64(5),
			"caBundle": base64.StdEncoding.EncodeToString(caPEM)},
	}})
	for _, f := range []string{"default/template.yaml", "default/samples/constraint.yaml"} {
		data, err := os.ReadFile(filepath.Join(library, f))
		if err != nil {
			t.Fatal(err)
		}
		var o unstructured.Unstructured
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&o.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		create(&o) // the constraint waits for Gatekeeper to make its kind
	}

	// The sample constraint covers pods in the default namespace, where
	// the walkthrough runs its demo pods.
	pods := c.client.CoreV1().Pods("default")
	var refusal error
	proctest.Eventually(60*time.Second, 500*time.Millisecond, func() bool {
		_, refusal = pods.Create(ctx, pod("demo-fail", fail), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return refusal != nil && strings.Contains(refusal.Error(), "ratify-constraint")
	})
	if refusal == nil || !strings.Contains(refusal.Error(), `admission webhook "validation.gatekeeper.sh" denied the request`) ||
		!strings.Contains(refusal.Error(), "[ratify-constraint]") || !strings.Contains(refusal.Error(), "failed to verify the artifact: "+fail) {
		t.Fatalf("unsigned pod: want Gatekeeper's refusal under Ratify's constraint naming %s, got %v\n%s", fail, refusal, srv.logs)
	}
	t.Logf("Gatekeeper's refusal: %v", refusal)
	if _, err := pods.Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{}); err != nil {
		t.Fatalf("signed pod refused: %v\n%s", err, srv.logs)
	}
	if !strings.Contains(srv.logs.String(), `"msg":"external data request"`) {
		t.Errorf("hallmark logged no external data request: Gatekeeper did not ask it\n%s", srv.logs)
	}
	checkACRRequests(t, w, "nginx")
}
