package kubee2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

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

	applyRatifyCRDs(t, dyn)
	c.namespace(t, "gatekeeper-system")
	testpeers.ApplyYAML(t, dyn, ratifyResources("    useHttp: true\n", root))

	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := s.serve(caPEM, "--ratify-resources", "--kubeconfig", c.cp.Kubeconfig, "--namespace", "gatekeeper-system",
		"--tls-cert-file", s.writeFile("tls.crt", certPEM), "--tls-key-file", s.writeFile("tls.key", keyPEM))

	checkRatifyStatus(t, dyn, srv.logs)

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
