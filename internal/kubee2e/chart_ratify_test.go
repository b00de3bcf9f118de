package kubee2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// statusSubresource finds a CRD version's status subresource.
var statusSubresource = regexp.MustCompile(`(?m)^\s+subresources:\n\s+status: \{\}`)

// The chart with ratifyResources.enabled runs serve --ratify-resources:
// installed on a real kube-apiserver (RBAC on) next to Ratify's own CRDs,
// the Deployment's own arguments, run as the chart's service account
// (impersonated), read the Ratify resources and write their status
// through its subresource, which the chart's ClusterRole must allow; the image pull secrets a Store names are mounted where the
// imported configuration reads them.
func TestChartRatifyResources(t *testing.T) {
	if testing.Short() {
		t.Skip("Kubernetes end-to-end test; runs without -short")
	}
	ctx := context.Background()
	objs := renderChart(t, "--set", "ratifyResources.enabled=true",
		"--set-json", `ratifyResources.pullSecrets=["regcred"]`, "--set", "azureWorkloadIdentity.clientID=5e3a6f0c-1d2b-4c3d-8e4f-000000000042")
	var args []string
	var configYAML string
	var mounts, labels map[string]string
	var saAnnotations map[string]string
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			ctr := containers[0].(map[string]any)
			args, _, _ = unstructured.NestedStringSlice(ctr, "args")
			vms, _, _ := unstructured.NestedSlice(ctr, "volumeMounts")
			mounts = map[string]string{}
			for _, vm := range vms {
				m := vm.(map[string]any)
				mounts[m["name"].(string)] = m["mountPath"].(string)
			}
			labels, _, _ = unstructured.NestedStringMap(o.Object, "spec", "template", "metadata", "labels")
		case "ConfigMap":
			configYAML, _, _ = unstructured.NestedString(o.Object, "data", "config.yaml")
		case "ServiceAccount":
			saAnnotations = o.GetAnnotations()
		}
	}
	joined := strings.Join(args, " ")
	if !strings.Contains(joined, "--ratify-resources") || !slices.Contains(args, "--config=/etc/hallmark/config/config.yaml") || !strings.Contains(joined, "--namespace="+chartNamespace) {
		t.Fatalf("the Deployment runs %q; want serve --ratify-resources --namespace=%s --config=/etc/hallmark/config/config.yaml", args, chartNamespace)
	}
	// The settings Ratify's resources do not hold come from the chart's
	// config, in config.yaml without its trust parts, which serve would
	// refuse; the release namespace is always excluded.
	serving := func(t *testing.T, text string) *config.Config {
		t.Helper()
		file := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.LoadServing(file)
		if err != nil {
			t.Fatalf("serve --ratify-resources refuses the chart's config.yaml: %v\n%s", err, text)
		}
		return c
	}
	base := serving(t, configYAML)
	if !slices.Equal(base.Admission.ExcludeNamespaces, []string{"kube-system", chartNamespace}) || base.Admission.RequireDigest == nil || !*base.Admission.RequireDigest || base.Verification.Deadline.Duration != 2500*time.Millisecond {
		t.Errorf("config.yaml: admission %+v, verification %+v; want the chart's defaults", base.Admission, base.Verification)
	}
	t.Run("config's admission and verification reach serve", func(t *testing.T) {
		for _, o := range renderChart(t, "--set", "ratifyResources.enabled=true", "--set", "config.mode=audit",
			"--set", "config.admission.requireDigest=false", "--set-json", `config.admission.excludeNamespaces=["tools"]`,
			"--set-json", `config.admission.exemptImages=["registry.k8s.io/**"]`, "--set", "config.verification.cache.maxEntries=50000") {
			if o.GetKind() != "ConfigMap" {
				continue
			}
			text, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
			c := serving(t, text)
			if c.Mode != config.ModeAudit || !slices.Equal(c.Admission.ExcludeNamespaces, []string{"tools", chartNamespace}) || *c.Admission.RequireDigest ||
				!slices.Equal(c.Admission.ExemptImages, []string{"registry.k8s.io/**"}) || c.Verification.Cache.MaxEntries != 50000 {
				t.Errorf("config.yaml %s", text)
			}
		}
	})
	if labels["azure.workload.identity/use"] != "true" || saAnnotations["azure.workload.identity/client-id"] != "5e3a6f0c-1d2b-4c3d-8e4f-000000000042" {
		t.Errorf("workload identity: pod labels %v, service account annotations %v", labels, saAnnotations)
	}

	t.Run("a k8Secrets Store's secret is mounted where the imported configuration reads it", func(t *testing.T) {
		rs, ps := ratify.Decode("store.yaml", []byte(`apiVersion: config.ratify.deislabs.io/v1beta1
kind: Store
metadata:
  name: store-oras
spec:
  name: oras
  parameters:
    authProvider:
      name: k8Secrets
      secrets:
        - secretName: regcred
`))
		res := ratify.Convert(rs, ratify.Options{Namespace: chartNamespace})
		if len(ps) > 0 || res.Config == nil || len(res.Config.Registries) == 0 {
			t.Fatalf("conversion: %v %+v", ps, res)
		}
		file := res.Config.Registries[0].Credentials.DockerConfigJSONFile
		if want := mounts["pull-secret-0"] + "/.dockerconfigjson"; file != want {
			t.Fatalf("the configuration reads %s; the chart mounts the secret at %s", file, want)
		}
	})
	t.Run("registries are refused with ratifyResources.enabled", func(t *testing.T) {
		chart := filepath.Join(moduleRoot(), "deploy", "helm", "hallmark")
		out, err := exec.Command(testpeers.HelmPath(t), "template", "hallmark", chart, "--kube-version", "1.35.4",
			"--set", "ratifyResources.enabled=true", "--set-json", `registries=[{"hosts":["r.example"],"existingSecret":"x"}]`).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "registries is set with ratifyResources.enabled") {
			t.Fatalf("want helm to refuse registries with ratifyResources.enabled, got %v:\n%s", err, out)
		}
	})

	c := newCluster(t)
	s := newSandbox(t)
	dyn, err := dynamic.NewForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	c.namespace(t, chartNamespace)
	applyRatifysOwnCRDs(t, dyn)
	createChartObjects(t, c, dyn, objs)
	if t.Failed() {
		return
	}
	s.hallmark("key", "create", "e2e", "--subject", "CN=e2e,O=Hallmark,ST=WA,C=US", "--key-type", "EC")
	root := s.hallmark("key", "export-cert", "e2e", "--root-only").Stdout
	resources := strings.ReplaceAll(ratifyACRResources("registry.example", root), "namespace: gatekeeper-system", "namespace: "+chartNamespace)
	testpeers.ApplyYAML(t, dyn, resources)

	// The pod's view: the chart's service account, and its volumes.
	kubeconfig, err := os.ReadFile(c.cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	asSA := strings.Replace(string(kubeconfig), "    token: "+testpeers.AdminToken+"\n",
		"    token: "+testpeers.AdminToken+"\n    as: system:serviceaccount:"+chartNamespace+":hallmark\n", 1)
	if asSA == string(kubeconfig) {
		t.Fatal("cannot impersonate the service account: the test kubeconfig changed shape")
	}
	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.writeFile("pod/tls/tls.crt", certPEM)
	s.writeFile("pod/tls/tls.key", keyPEM)
	var podArgs []string
	for _, a := range args[1:] { // serve is the sandbox's
		if strings.HasPrefix(a, "--listen=") {
			continue // the sandbox listens on a free loopback port
		}
		podArgs = append(podArgs, strings.ReplaceAll(a, "/etc/hallmark/", filepath.Join(s.dir, "pod")+"/"))
	}
	s.writeFile("pod/config/config.yaml", []byte(strings.ReplaceAll(configYAML, "/etc/hallmark/", filepath.Join(s.dir, "pod")+"/")))
	podArgs = append(podArgs, "--kubeconfig", s.writeFile("pod/kubeconfig", []byte(asSA)))
	// What AKS's workload identity webhook injects into the labelled pod.
	s.env = []string{
		"AZURE_CLIENT_ID=" + acrClientID,
		"AZURE_TENANT_ID=" + acrTenantID,
		"AZURE_AUTHORITY_HOST=https://login.microsoftonline.com/",
		"AZURE_FEDERATED_TOKEN_FILE=" + s.writeFile("pod/azure-identity-token", []byte(acrAssertion)),
	}
	srv := s.serve(caPEM, podArgs...)

	for _, r := range []struct{ resource, ns, name string }{{"stores", "", "store-oras"}, {"certificatestores", chartNamespace, "certstore-inline"}, {"verifiers", "", "verifier-notation"}} {
		client := dyn.Resource(schema.GroupVersionResource{Group: ratify.GroupV1, Version: ratify.VersionBeta1, Resource: r.resource})
		o, err := client.Namespace(r.ns).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, _ := unstructured.NestedBool(o.Object, "status", "issuccess"); !ok {
			t.Errorf("%s/%s: status %v, want issuccess true written by the chart's service account\n%s", r.resource, r.name, o.Object["status"], srv.logs)
		}
	}
}

// applyRatifysOwnCRDs applies Ratify v1.4.6's own CRDs (its chart's), as a
// cluster where Ratify ran has them, whose status is a subresource, and
// hallmark's Executor CRD (Ratify v1.4.6 has none), and waits until they
// are served.
func applyRatifysOwnCRDs(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	dir := filepath.Join(filepath.Dir(testpeers.RatifyLibrary(t)), "charts", "ratify", "crds")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) != 9 {
		t.Fatalf("Ratify's chart CRDs in %s: %d files, %v", dir, len(files), err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !statusSubresource.Match(data) {
			t.Fatalf("%s has no status subresource; the tests mean to write status through one", f)
		}
		testpeers.ApplyYAML(t, dyn, string(data))
	}
	for _, doc := range strings.Split(string(ratify.CRDs()), "\n---\n") {
		if strings.Contains(doc, "name: executors.config.ratify.sh") {
			testpeers.ApplyYAML(t, dyn, doc)
		}
	}
	waitServed(t, dyn, ratify.KindVerifier, ratify.KindExecutor)
}
