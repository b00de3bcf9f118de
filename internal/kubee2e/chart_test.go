package kubee2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// chartNamespace is the namespace the chart is installed in.
const chartNamespace = "hallmark-system"

// renderChart runs `helm template` on deploy/helm/hallmark and returns the
// objects it renders.
func renderChart(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	chart := filepath.Join(moduleRoot(), "deploy", "helm", "hallmark")
	// A helm built from source reports Kubernetes v1.20 unless told.
	args = append([]string{"template", "hallmark", chart, "--namespace", chartNamespace, "--kube-version", "1.35.4"}, args...)
	cmd := exec.Command(testpeers.HelmPath(t), args...)
	cmd.Env = append(cmd.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(&out, 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("helm template output: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs
}

// gatekeeperCRDs stand in for Gatekeeper's: they make the API server know
// the kinds the chart's Gatekeeper objects use (their group, version, kind
// and scope), without Gatekeeper's schemas.
var gatekeeperCRDs = []struct{ group, version, kind, plural string }{
	{"externaldata.gatekeeper.sh", "v1beta1", "Provider", "providers"},
	{"templates.gatekeeper.sh", "v1", "ConstraintTemplate", "constrainttemplates"},
	{"constraints.gatekeeper.sh", "v1beta1", "HallmarkVerifiedImages", "hallmarkverifiedimages"},
	{"mutations.gatekeeper.sh", "v1", "Assign", "assign"},
}

// testChart renders the chart with its image set to image (REPOSITORY:TAG),
// checks that its configuration is one hallmark accepts, and creates its
// objects on the API server.
func testChart(t *testing.T, c *cluster, s *sandbox, image string) {
	ctx := context.Background()
	i := strings.LastIndex(image, ":")
	repo, tag := image[:i], image[i+1:]
	caPEM, _, _, err := testpeers.ServingCertificate("trust", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stores, _ := json.Marshal([]any{map[string]any{"name": "default", "type": "ca",
		"certificates": []any{map[string]string{"pem": string(caPEM)}}}})
	objs := renderChart(t,
		"--set", "gatekeeper.enabled=true", "--set", "auditInterval=10m",
		"--set", "image.repository="+repo, "--set", "image.tag="+tag,
		"--set-json", "config.trustStores="+string(stores),
		"--set-json", `registries=[{"hosts":["registry.example.com"],"dockerConfigJSON":"{\"auths\":{}}"},{"hosts":["internal.example:5000"],"existingSecret":"internal-pull"}]`)
	kinds := map[string]int{}
	for _, o := range objs {
		kinds[o.GetKind()]++
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "ConfigMap", "Secret", "ServiceAccount",
		"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
		"Provider", "ConstraintTemplate", "HallmarkVerifiedImages", "Assign"} {
		if kinds[k] == 0 {
			t.Errorf("the chart renders no %s; it renders %v", k, kinds)
		}
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		// The Lease the periodic-audit test elects with, which the chart's
		// Role lets the service account use.
		if want := "--audit-interval 10m --audit-lease " + chartNamespace + "/hallmark-audit"; !strings.Contains(strings.Join(args, " "), want) {
			t.Errorf("the Deployment runs %q; want it to contain %q", args, want)
		}
	}

	for _, o := range objs {
		if o.GetKind() != "ConfigMap" {
			continue
		}
		// The configuration must build (trust store, trust policy, registry
		// credentials), not only parse. The files it names are the pod's
		// volumes (the TLS Secret, the registry Secrets), here written to the
		// sandbox.
		_, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		root := filepath.Join(s.dir, "chart-volumes")
		for name, data := range map[string][]byte{
			"tls/tls.crt": certPEM, "tls/tls.key": keyPEM,
			"registries/0/.dockerconfigjson": []byte(`{"auths":{}}`),
			"registries/1/.dockerconfigjson": []byte(`{"auths":{}}`),
		} {
			s.writeFile(filepath.Join("chart-volumes", name), data)
		}
		cfg, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
		cfg = strings.ReplaceAll(cfg, "/etc/hallmark/", root+"/")
		if r := s.run("config", "validate", "--build", s.writeFile("chart-config.yaml", []byte(cfg))); r.Code != 0 {
			t.Errorf("hallmark refuses the chart's configuration: %s\n%s", r, cfg)
		}
	}

	dyn, err := dynamic.NewForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	c.namespace(t, chartNamespace)
	installCRDs(t, dyn)
	createChartObjects(t, c, dyn, objs)
	if t.Failed() {
		return
	}
	// The webhooks' caBundle is the CA of the certificate in the TLS Secret.
	sec, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "secrets"}).Namespace(chartNamespace).Get(ctx, "hallmark-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ca, _, _ := unstructured.NestedString(sec.Object, "data", "ca.crt")
	for _, o := range objs {
		if strings.HasSuffix(o.GetKind(), "WebhookConfiguration") {
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			bundle, _, _ := unstructured.NestedString(hooks[0].(map[string]any), "clientConfig", "caBundle")
			if ca == "" || bundle != ca {
				t.Errorf("%s caBundle does not match the TLS Secret's ca.crt", o.GetKind())
			}
		}
	}
}

// createChartObjects creates the chart's objects in chartNamespace, as
// helm install would, with strict field validation; the webhook
// configurations only in a server-side dry run, since they point at a
// Service with no pods behind it here and, stored, would make every later
// pod creation fail.
func createChartObjects(t *testing.T, c *cluster, dyn dynamic.Interface, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	dc, err := discovery.NewDiscoveryClientForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))

	for _, o := range objs {
		gvk := o.GroupVersionKind()
		var mapping *meta.RESTMapping
		proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
			if mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				mapper.Reset() // a CRD just established
			}
			return err == nil
		})
		if err != nil {
			t.Errorf("%s %s: the API server does not know the kind: %v", gvk.Kind, o.GetName(), err)
			continue
		}
		var ri dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(mapping.Resource).Namespace(chartNamespace)
		}
		opts := metav1.CreateOptions{FieldValidation: "Strict"}
		if strings.HasSuffix(gvk.Kind, "WebhookConfiguration") {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		if _, err := ri.Create(ctx, o, opts); err != nil {
			t.Errorf("the API server refused the chart's %s %s: %v", gvk.Kind, o.GetName(), err)
		}
	}
}

// installCRDs creates stand-ins for Gatekeeper's CRDs that accept any
// content.
func installCRDs(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	crds := dyn.Resource(schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"})
	for _, c := range gatekeeperCRDs {
		crd := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1",
			"kind":       "CustomResourceDefinition",
			"metadata":   map[string]any{"name": c.plural + "." + c.group},
			"spec": map[string]any{
				"group": c.group,
				"scope": "Cluster",
				"names": map[string]any{"kind": c.kind, "plural": c.plural, "singular": strings.ToLower(c.kind)},
				"versions": []any{map[string]any{
					"name": c.version, "served": true, "storage": true,
					"schema": map[string]any{"openAPIV3Schema": map[string]any{
						"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
				}},
			},
		}}
		if _, err := crds.Create(context.Background(), crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create the stand-in CRD for %s: %v", c.kind, err)
		}
	}
}

// TestChartVariants renders the chart's other shapes: cert-manager instead
// of a generated certificate, Gatekeeper without the webhooks, and the
// refusal to render without trust material.
func TestChartVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("renders the Helm chart with a helm built from tools/helm; runs without -short")
	}
	stores := `config.trustStores=[{"name":"default","type":"ca","certificates":[{"pem":"PEM"}]}]`
	kinds := func(objs []*unstructured.Unstructured) map[string]int {
		m := map[string]int{}
		for _, o := range objs {
			m[o.GetKind()]++
		}
		return m
	}

	t.Run("cert-manager", func(t *testing.T) {
		objs := renderChart(t, "--set-json", stores, "--set", "certManager.enabled=true")
		k := kinds(objs)
		if k["Certificate"] != 1 || k["Issuer"] != 1 || k["Secret"] != 0 {
			t.Fatalf("want a Certificate, an Issuer and no generated Secret, got %v", k)
		}
		for _, o := range objs {
			if !strings.HasSuffix(o.GetKind(), "WebhookConfiguration") {
				continue
			}
			if o.GetAnnotations()["cert-manager.io/inject-ca-from"] != chartNamespace+"/hallmark" {
				t.Errorf("%s lacks cert-manager's CA injection annotation", o.GetKind())
			}
			hooks, _, _ := unstructured.NestedSlice(o.Object, "webhooks")
			if b, _, _ := unstructured.NestedString(hooks[0].(map[string]any), "clientConfig", "caBundle"); b != "" {
				t.Errorf("%s has a caBundle although cert-manager injects it", o.GetKind())
			}
		}
	})
	t.Run("Ratify's CRDs when asked", func(t *testing.T) {
		if k := kinds(renderChart(t, "--set-json", stores)); k["CustomResourceDefinition"] != 0 {
			t.Fatalf("CRDs installed unasked: %v", k)
		}
		crds := 0
		for _, o := range renderChart(t, "--set-json", stores, "--set", "ratifyResources.installCRDs=true") {
			if o.GetKind() == "CustomResourceDefinition" && strings.HasSuffix(o.GetName(), ".config.ratify.deislabs.io") {
				crds++
			}
		}
		if crds != 9 {
			t.Fatalf("%d of Ratify's 9 CRDs rendered", crds)
		}
	})
	t.Run("gatekeeper only", func(t *testing.T) {
		k := kinds(renderChart(t, "--set-json", stores, "--set", "webhook.enabled=false", "--set", "gatekeeper.enabled=true", "--set", "gatekeeper.enforcementAction=warn"))
		// Mutation is on by default: deny mode refuses unpinned tags.
		if k["ValidatingWebhookConfiguration"] != 0 || k["MutatingWebhookConfiguration"] != 0 || k["Provider"] != 2 || k["Assign"] != 4 || k["HallmarkVerifiedImages"] != 1 {
			t.Fatalf("want the Gatekeeper objects with mutation and no webhooks, got %v", k)
		}
	})
	t.Run("gatekeeper only, with mutual TLS", func(t *testing.T) {
		ca, _, _, err := testpeers.ServingCertificate("gatekeeper", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		caJSON, _ := json.Marshal(string(ca))
		for _, o := range renderChart(t, "--set-json", stores, "--set", "webhook.enabled=false", "--set", "gatekeeper.enabled=true",
			"--set-json", "gatekeeper.clientCA="+string(caJSON)) {
			if o.GetKind() != "ConfigMap" {
				continue
			}
			cfg, _, _ := unstructured.NestedString(o.Object, "data", "config.yaml")
			got, _, _ := unstructured.NestedString(o.Object, "data", "gatekeeper-client-ca.crt")
			if !strings.Contains(cfg, "clientCAFile: /etc/hallmark/config/gatekeeper-client-ca.crt") || strings.TrimSpace(got) != strings.TrimSpace(string(ca)) {
				t.Fatalf("the ConfigMap does not require Gatekeeper's client certificate:\n%s\nca:\n%s", cfg, got)
			}
			return
		}
		t.Fatal("no ConfigMap rendered")
	})
	t.Run("mutual TLS with hallmark's own webhooks", func(t *testing.T) {
		chart := filepath.Join(moduleRoot(), "deploy", "helm", "hallmark")
		out, err := exec.Command(testpeers.HelmPath(t), "template", "hallmark", chart, "--kube-version", "1.35.4",
			"--set-json", stores, "--set", "gatekeeper.enabled=true", "--set", "gatekeeper.clientCA=PEM").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "gatekeeper.clientCA requires webhook.enabled=false") {
			t.Fatalf("want helm to refuse mutual TLS with the API server's webhooks on, got %v:\n%s", err, out)
		}
	})
	t.Run("GOMEMLIMIT is 90 % of the memory limit", func(t *testing.T) {
		goMemLimit := func(args ...string) string {
			t.Helper()
			for _, o := range renderChart(t, append([]string{"--set-json", stores}, args...)...) {
				if o.GetKind() != "Deployment" {
					continue
				}
				containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
				env, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "env")
				for _, e := range env {
					if e := e.(map[string]any); e["name"] == "GOMEMLIMIT" {
						v, _ := e["value"].(string)
						return v
					}
				}
				return ""
			}
			t.Fatal("no Deployment rendered")
			return ""
		}
		for _, c := range []struct {
			args []string
			want string
		}{
			{nil, "230MiB"}, // the default limit, 256Mi
			{[]string{"--set", "resources.limits.memory=1Gi"}, "921MiB"},
			{[]string{"--set", "resources.limits.memory=400M"}, "343MiB"},
			{[]string{"--set", "resources.limits.memory=400M", "--set", "goMemLimit=300MiB"}, "300MiB"},
			{[]string{"--set", "resources.limits=null"}, ""},
		} {
			if got := goMemLimit(c.args...); got != c.want {
				t.Errorf("%v: GOMEMLIMIT %q, want %q", c.args, got, c.want)
			}
		}
		chart := filepath.Join(moduleRoot(), "deploy", "helm", "hallmark")
		out, err := exec.Command(testpeers.HelmPath(t), "template", "hallmark", chart, "--kube-version", "1.35.4",
			"--set-json", stores, "--set", "resources.limits.memory=0.5Gi").CombinedOutput()
		if err == nil || !strings.Contains(string(out), `resources.limits.memory "0.5Gi": write it as an integer`) {
			t.Fatalf("want helm to refuse a memory limit it cannot take 90 %% of, got %v:\n%s", err, out)
		}
	})
	t.Run("no trust stores", func(t *testing.T) {
		chart := filepath.Join(moduleRoot(), "deploy", "helm", "hallmark")
		out, err := exec.Command(testpeers.HelmPath(t), "template", "hallmark", chart, "--kube-version", "1.35.4").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "config.trustStores is empty") {
			t.Fatalf("want helm to refuse a chart without trust stores, got %v:\n%s", err, out)
		}
	})
}
