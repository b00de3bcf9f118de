package kubee2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// hallmark serve --ratify-resources serves from Ratify's resources applied
// to a real kube-apiserver: their status reads as Ratify's, a signed pod is
// admitted and an unsigned one denied.
func TestRatifyResources(t *testing.T) {
	if testing.Short() {
		t.Skip("Kubernetes end-to-end test; runs without -short")
	}
	ctx := context.Background()
	c := newCluster(t)
	s := newSandbox(t)
	host := testpeers.StartDistribution(t)
	dyn, err := dynamic.NewForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}

	s.hallmark("key", "create", "e2e", "--subject", "CN=e2e,O=Hallmark,ST=WA,C=US", "--key-type", "EC")
	root := s.hallmark("key", "export-cert", "e2e", "--root-only").Stdout
	passDigest := pushImage(t, host, "demo", "pass")
	s.hallmark("sign", host+"/demo@"+passDigest, "--key", "e2e", "--plain-http")
	pushImage(t, host, "demo", "fail")

	testpeers.ApplyYAML(t, dyn, string(ratify.CRDs()))
	c.namespace(t, "gatekeeper-system")
	if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		_, err := dyn.Resource(schema.GroupVersionResource{Group: ratify.GroupV1, Version: ratify.VersionBeta1, Resource: "verifiers"}).List(ctx, metav1.ListOptions{})
		return err == nil
	}) {
		t.Fatal("Ratify's CRDs are not served")
	}
	var certStore strings.Builder
	certStore.WriteString("apiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata:\n  name: certstore-inline\n  namespace: gatekeeper-system\nspec:\n  provider: inline\n  parameters:\n    value: |\n")
	for _, line := range strings.Split(strings.TrimSpace(root), "\n") {
		certStore.WriteString("      " + line + "\n")
	}
	testpeers.ApplyYAML(t, dyn, `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Store
metadata:
  name: store-oras
spec:
  name: oras
  parameters:
    useHttp: true
---
`+certStore.String()+`---
apiVersion: config.ratify.deislabs.io/v1beta1
kind: Verifier
metadata:
  name: verifier-notation
spec:
  name: notation
  artifactTypes: application/vnd.cncf.notary.signature
  parameters:
    verificationCertStores:
      certs:
          - certstore-inline
    trustPolicyDoc:
      version: "1.0"
      trustPolicies:
        - name: default
          registryScopes:
            - "*"
          signatureVerification:
            level: strict
          trustStores:
            - ca:certs
          trustedIdentities:
            - "*"
`)

	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := s.serve(caPEM, "--ratify-resources", "--kubeconfig", c.cp.Kubeconfig, "--namespace", "gatekeeper-system",
		"--tls-cert-file", s.writeFile("tls.crt", certPEM), "--tls-key-file", s.writeFile("tls.key", keyPEM))

	for _, r := range []struct{ resource, ns, name string }{{"stores", "", "store-oras"}, {"certificatestores", "gatekeeper-system", "certstore-inline"}, {"verifiers", "", "verifier-notation"}} {
		client := dyn.Resource(schema.GroupVersionResource{Group: ratify.GroupV1, Version: ratify.VersionBeta1, Resource: r.resource})
		o, err := client.Namespace(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, _ := unstructured.NestedBool(o.Object, "status", "issuccess"); !ok {
			t.Errorf("%s/%s: status %v, want issuccess true\n%s", r.resource, r.name, o.Object["status"], srv.logs)
		}
	}

	pass, fail := host+"/demo:pass", host+"/demo:fail"
	c.namespace(t, nsDemo)
	c.registerHallmark(t, srv.url, caPEM)
	c.waitForWebhook(t, fail)
	pods := c.client.CoreV1().Pods(nsDemo)
	if _, err := pods.Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{}); err != nil {
		t.Fatalf("signed pod refused: %v", err)
	}
	if _, err := pods.Create(ctx, pod("demo-fail", fail), metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "no Notary Project signature") {
		t.Fatalf("unsigned pod: want a denial naming the missing signature, got %v", err)
	}
}
