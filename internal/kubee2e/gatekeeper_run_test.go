package kubee2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/retry"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

const nsGatekeeper = "gatekeeper-system"

// TestGatekeeper runs Gatekeeper v3.21 itself against a real kube-apiserver
// with the chart's Gatekeeper objects (Provider, ConstraintTemplate,
// Constraint) and `hallmark serve` as the external data provider, in place
// of Ratify: an unsigned pod is refused with hallmark's reason in the API
// error, a signed one is admitted, and with enforcementAction warn the
// unsigned one is admitted with the reason as a warning. hallmark's own
// webhooks are not registered here; Gatekeeper does the admission.
func TestGatekeeper(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Gatekeeper and a Kubernetes control plane; runs without -short")
	}
	ctx := context.Background()
	testpeers.GatekeeperPath(t) // built before the cluster starts
	c := newCluster(t)
	s := newSandbox(t)
	host := testpeers.StartDistribution(t)

	s.hallmark("key", "create", "gk", "--subject", "CN=gk,O=Hallmark,ST=WA,C=US", "--key-type", "EC")
	s.writeFile(filepath.Join("ts", "x509", "ca", "e2e", "root.pem"), []byte(s.hallmark("key", "export-cert", "gk", "--root-only").Stdout))
	store := filepath.Join(s.dir, "ts")
	policy := s.writeFile("trustpolicy.json", trustPolicy("ca:e2e"))
	passDigest := pushImage(t, host, "gk", "pass")
	s.hallmark("sign", host+"/gk@"+passDigest, "--key", "gk", "--plain-http")
	pass := host + "/gk:pass"
	pushImage(t, host, "gk", "fail")
	fail := host + "/gk:fail"

	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Gatekeeper's webhook certificate, which it also presents to external
	// data providers; hallmark requires it (mutual TLS), as docs/deploy.md
	// advises.
	gkCA, gkCert, gkKey, err := testpeers.ServingCertificate("gatekeeper", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	config := string(serveConfig("deny", s.writeFile("tls.crt", certPEM), s.writeFile("tls.key", keyPEM), policy, store))
	config = strings.Replace(config, "tls:\n", "tls:\n  clientCAFile: "+s.writeFile("gatekeeper-ca.crt", gkCA)+"\n", 1)
	configFile := s.writeFile("config.yaml", []byte(config))
	srv := s.serve(caPEM, "--config", configFile, "--plain-http")
	t.Run("the provider endpoints refuse a client without Gatekeeper's certificate", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := client.Post(srv.url+"/ratify/gatekeeper/v1/verify", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a request without a client certificate got %s", resp.Status)
		}
	})

	dyn, create := startGatekeeper(t, c, s, gkCA, gkCert, gkKey)

	// The chart's Gatekeeper objects, with the Providers pointed at the
	// hallmark serving here.
	var constraint *unstructured.Unstructured
	assigns := 0
	for _, o := range renderChart(t, "--set", "gatekeeper.enabled=true", "--set", "gatekeeper.mutation.enabled=true", "--set-json",
		`config.trustStores=[{"name":"default","type":"ca","certificates":[{"pem":"PEM"}]}]`) {
		switch o.GetKind() {
		case "Provider":
			// Keep the endpoint the chart chose; change only the host.
			u, _, _ := unstructured.NestedString(o.Object, "spec", "url")
			path := u[strings.Index(u, "/ratify/"):]
			unstructured.SetNestedField(o.Object, srv.url+path, "spec", "url")
			unstructured.SetNestedField(o.Object, base64.StdEncoding.EncodeToString(caPEM), "spec", "caBundle")
			create(o)
		case "ConstraintTemplate":
			create(o)
		case "Assign":
			create(o)
			assigns++
		case "HallmarkVerifiedImages":
			constraint = o
		}
	}
	if constraint == nil || assigns != 4 {
		t.Fatalf("the chart renders constraint %v and %d Assign mutators; want one and 4", constraint != nil, assigns)
	}
	create(constraint) // waits for Gatekeeper to make the kind from the template

	pods := c.client.CoreV1().Pods(nsDemo)
	// Gatekeeper enforces a constraint once its watch has loaded it: retry
	// a dry run until the unsigned pod is refused.
	var refusal error
	proctest.Eventually(60*time.Second, 500*time.Millisecond, func() bool {
		_, refusal = pods.Create(ctx, pod("gk-fail", fail), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return refusal != nil
	})
	t.Run("an unsigned pod is refused with hallmark's reason", func(t *testing.T) {
		if refusal == nil {
			t.Fatal("Gatekeeper admitted the unsigned pod")
		}
		t.Logf("Gatekeeper's refusal: %v", refusal)
		for _, want := range []string{`admission webhook "validation.gatekeeper.sh" denied the request`, "hallmark-verified-images", fail, "no Notary Project signature"} {
			if !strings.Contains(refusal.Error(), want) {
				t.Errorf("the API error does not say %q:\n%v", want, refusal)
			}
		}
	})
	t.Run("a signed pod is admitted, its tag pinned to the digest by Gatekeeper's mutation", func(t *testing.T) {
		if _, err := pods.Create(ctx, pod("gk-pass", pass), metav1.CreateOptions{}); err != nil {
			t.Fatalf("the signed pod was refused: %v", err)
		}
		got, err := pods.Get(ctx, "gk-pass", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := pass + "@" + passDigest; got.Spec.Containers[0].Image != want {
			t.Errorf("stored image %q; want %q (pinned through the chart's Assign and hallmark's mutate endpoint)", got.Spec.Containers[0].Image, want)
		}
		p := pod("gk-init", pass)
		initC := p.Spec.Containers[0]
		initC.Name, initC.Image = "init", fail
		p.Spec.InitContainers = []corev1.Container{initC}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil || !strings.Contains(err.Error(), fail) {
			t.Errorf("a pod with an unsigned init container: want a refusal naming %s, got %v", fail, err)
		}
	})
	t.Run("image volumes are checked and pinned through the chart's template and Assign", func(t *testing.T) {
		_, err := pods.Create(ctx, withImageVolume(pod("gk-volume-fail", pass), fail), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err == nil || !strings.Contains(err.Error(), fail) {
			t.Fatalf("a pod mounting an unsigned image volume: want a refusal naming %s, got %v", fail, err)
		}
		p := withImageVolume(pod("gk-volume-pass", pass), pass)
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("a pod with a signed image volume was refused: %v", err)
		}
		got, err := pods.Get(ctx, "gk-volume-pass", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := pass + "@" + passDigest; got.Spec.Volumes[0].Image == nil || got.Spec.Volumes[0].Image.Reference != want {
			t.Errorf("stored image volume %+v, want %q", got.Spec.Volumes[0].Image, want)
		}
		if got.Spec.Volumes[1].Image != nil {
			t.Errorf("the emptyDir volume gained an image source: %+v", got.Spec.Volumes[1])
		}
	})
	t.Run("enforcementAction warn admits with the reason as a warning", func(t *testing.T) {
		ri := dyn.Resource(schema.GroupVersionResource{Group: "constraints.gatekeeper.sh", Version: "v1beta1", Resource: "hallmarkverifiedimages"})
		setField(t, ri, constraint.GetName(), "warn", "spec", "enforcementAction")
		var err error
		var ws string
		if !proctest.Eventually(60*time.Second, 500*time.Millisecond, func() bool {
			c.warn.take()
			_, err = pods.Create(ctx, pod("gk-warn", fail), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			ws = strings.Join(c.warn.take(), "\n")
			return err == nil && strings.Contains(ws, fail) && strings.Contains(ws, "no Notary Project signature")
		}) {
			t.Fatalf("in warn mode: err %v, warnings %q", err, ws)
		}
	})
	t.Run("Ratify's own ConstraintTemplates work unchanged with hallmark as ratify-provider", func(t *testing.T) {
		testRatifyTemplates(t, c, s, dyn, create, srv.url, caPEM, pass, fail)
	})
	t.Run("hallmark answered Gatekeeper's external data requests over mutual TLS", func(t *testing.T) {
		if !strings.Contains(srv.logs.String(), `"msg":"external data request"`) {
			t.Errorf("hallmark logged no external data request:\n%s", srv.logs)
		}
	})
}

// startGatekeeper runs Gatekeeper (webhook, status, mutation) on loopback
// against c with its certificate, after applying its CRDs from its release
// manifest and creating the gatekeeper-system and demo namespaces, and
// registers its validating and mutating webhooks for pods. It returns a
// dynamic client and create, which creates an object once the API server
// knows its kind (a CRD just established, or one Gatekeeper makes).
func startGatekeeper(t *testing.T, c *cluster, s *sandbox, gkCA, gkCert, gkKey []byte) (dynamic.Interface, func(*unstructured.Unstructured)) {
	t.Helper()
	ctx := context.Background()
	gatekeeper := testpeers.GatekeeperPath(t)
	dyn, err := dynamic.NewForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	create := func(o *unstructured.Unstructured) {
		t.Helper()
		gvk := o.GroupVersionKind()
		var mapping *meta.RESTMapping
		proctest.Eventually(60*time.Second, 250*time.Millisecond, func() bool {
			if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				mapper.Reset() // a CRD just established, or Gatekeeper is still making it
			}
			return err == nil
		})
		if err != nil {
			t.Fatalf("%s %s: the API server does not know the kind: %v", gvk.Kind, o.GetName(), err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(mapping.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s %s: %v", gvk.Kind, o.GetName(), err)
		}
	}

	// Gatekeeper's CRDs, from its release manifest.
	manifest, err := os.ReadFile(testpeers.GatekeeperManifest(t))
	if err != nil {
		t.Fatal(err)
	}
	crds := 0
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		var o unstructured.Unstructured
		if err := dec.Decode(&o.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("gatekeeper manifest: %v", err)
		}
		if o.GetKind() == "CustomResourceDefinition" {
			create(&o)
			crds++
		}
	}
	if crds < 10 {
		t.Fatalf("the Gatekeeper manifest holds %d CRDs", crds)
	}
	c.namespace(t, nsGatekeeper)
	c.namespace(t, nsDemo)
	// Gatekeeper owns the status objects it writes by its own Pod (named by
	// POD_NAME); with no kubelet here the Pod is only an API object.
	if _, err := c.client.CoreV1().Pods(nsGatekeeper).Create(ctx, pod("gatekeeper-e2e", "registry.example/gatekeeper:v3.21.0"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Gatekeeper's webhook serves on loopback with its certificate.
	certDir := filepath.Join(s.dir, "gatekeeper-certs")
	for name, data := range map[string][]byte{"tls.crt": gkCert, "tls.key": gkKey, "ca.crt": gkCA} {
		s.writeFile(filepath.Join("gatekeeper-certs", name), data)
	}
	port, health := testpeers.FreePort(t), testpeers.FreePort(t)
	cmd := exec.Command(gatekeeper,
		"--port", fmt.Sprint(port), "--host", "127.0.0.1", "--cert-dir", certDir, "--disable-cert-rotation",
		"--health-addr", fmt.Sprintf("127.0.0.1:%d", health), "--metrics-addr", "0",
		"--operation", "webhook", "--operation", "status", "--operation", "generate",
		"--operation", "mutation-webhook", "--operation", "mutation-controller", "--operation", "mutation-status",
		"--enable-k8s-native-validation=false", "--shutdown-delay", "0",
		"--external-data-provider-response-cache-ttl", "0s")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.cp.Kubeconfig, "POD_NAMESPACE="+nsGatekeeper, "POD_NAME=gatekeeper-e2e")
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		if t.Failed() {
			t.Logf("gatekeeper logs:\n%s", logs)
		}
	})
	var readyErr error
	if !proctest.Eventually(2*time.Minute, 100*time.Millisecond, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", health))
		if readyErr = err; err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("gatekeeper never became ready: %v", readyErr)
	}

	// Gatekeeper's validating and mutating webhooks, by URL, for pods.
	podRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}}
	gk := fmt.Sprintf("https://127.0.0.1:%d", port)
	c.registerWebhooks(t, "gatekeeper",
		webhookByURL("validation.gatekeeper.sh", gk+"/v1/admit", gkCA, podRules, 5, nsGatekeeper),
		webhookByURL("mutation.gatekeeper.sh", gk+"/v1/mutate", gkCA, podRules, 5, nsGatekeeper),
		admissionregistrationv1.IfNeededReinvocationPolicy)

	return dyn, create
}

// testRatifyTemplates applies Ratify v1.4.6's own library templates, as its
// users have them, unchanged: default (RatifyVerification) and
// notation-issuer-validation (NotationIssuerValidation), with a Provider
// named ratify-provider, as Ratify's chart names it, pointing at hallmark.
// The chart's constraint is removed first, so only Ratify's decide.
func testRatifyTemplates(t *testing.T, c *cluster, s *sandbox, dyn dynamic.Interface, create func(*unstructured.Unstructured), url string, caPEM []byte, pass, fail string) {
	ctx := context.Background()
	if err := dyn.Resource(schema.GroupVersionResource{Group: "constraints.gatekeeper.sh", Version: "v1beta1", Resource: "hallmarkverifiedimages"}).
		Delete(ctx, "hallmark-verified-images", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	create(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "Provider",
		"metadata": map[string]any{"name": "ratify-provider"},
		"spec": map[string]any{"url": url + "/ratify/gatekeeper/v1/verify", "timeout": int64(3),
			"caBundle": base64.StdEncoding.EncodeToString(caPEM)},
	}})
	library := testpeers.RatifyLibrary(t)
	for _, f := range []string{"default/template.yaml", "notation-issuer-validation/template.yaml"} {
		data, err := os.ReadFile(filepath.Join(library, f))
		if err != nil {
			t.Fatal(err)
		}
		var o unstructured.Unstructured
		if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&o.Object); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		create(&o)
	}
	// The issuer Ratify's notation verifier reports, and its template
	// compares: the signing certificate's issuer as Go's x509 prints it.
	block, _ := pem.Decode([]byte(s.hallmark("key", "export-cert", "gk").Stdout))
	if block == nil {
		t.Fatal("key export-cert printed no PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	match := map[string]any{"kinds": []any{map[string]any{"apiGroups": []any{""}, "kinds": []any{"Pod"}}}, "namespaces": []any{nsDemo}}
	create(&unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "RatifyVerification",
		"metadata": map[string]any{"name": "ratify-constraint"},
		"spec":     map[string]any{"enforcementAction": "deny", "match": match},
	}})
	issuerConstraint := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "NotationIssuerValidation",
		"metadata": map[string]any{"name": "notation-issuer"},
		"spec": map[string]any{"enforcementAction": "deny", "match": match,
			"parameters": map[string]any{"issuer": cert.Issuer.String()}},
	}}
	create(issuerConstraint)

	pods := c.client.CoreV1().Pods(nsDemo)
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	var refusal error
	proctest.Eventually(60*time.Second, 500*time.Millisecond, func() bool {
		_, refusal = pods.Create(ctx, pod("ratify-fail", fail), dryRun)
		return refusal != nil && strings.Contains(refusal.Error(), "ratify-constraint")
	})
	if refusal == nil || !strings.Contains(refusal.Error(), "[ratify-constraint]") || !strings.Contains(refusal.Error(), "failed to verify the artifact: "+fail) {
		t.Fatalf("Ratify's default template on an unsigned pod: want its refusal naming %s, got %v", fail, refusal)
	}
	t.Logf("refusal under Ratify's templates: %v", refusal)
	if _, err := pods.Create(ctx, pod("ratify-pass", pass), dryRun); err != nil {
		t.Fatalf("Ratify's templates refused the signed pod: %v", err)
	}

	// An issuer the signing certificate does not have: Ratify's issuer
	// template refuses the signed pod, reading hallmark's extensions.
	// Gatekeeper names a constraint's resource by its lowercased kind.
	ri := dyn.Resource(schema.GroupVersionResource{Group: "constraints.gatekeeper.sh", Version: "v1beta1", Resource: "notationissuervalidation"})
	setField(t, ri, "notation-issuer", "CN=Someone Else,O=Elsewhere,C=US", "spec", "parameters", "issuer")
	if !proctest.Eventually(60*time.Second, 500*time.Millisecond, func() bool {
		_, err = pods.Create(ctx, pod("ratify-issuer", pass), dryRun)
		return err != nil && strings.Contains(err.Error(), "has no signatures for certificate with Issuer: CN=Someone Else")
	}) {
		t.Fatalf("Ratify's issuer template with a foreign issuer: want a refusal, got %v", err)
	}
}

// setField sets one field of a constraint, retrying when Gatekeeper wrote
// the object (its status) between the read and the update.
func setField(t *testing.T, ri dynamic.ResourceInterface, name, value string, fields ...string) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := ri.Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := unstructured.SetNestedField(cur.Object, value, fields...); err != nil {
			return err
		}
		_, err = ri.Update(context.Background(), cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("set %v of %s: %v", fields, name, err)
	}
}
