package kubee2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// The names the tests use for their namespaces, and the webhooks' timeout.
const (
	nsDemo  = "demo"
	nsClean = "clean"

	// webhookTimeout is the webhooks' timeoutSeconds. hallmark's own
	// deadline (2.5 s by default) is well inside it, so a hanging registry
	// must give hallmark's answer, not the API server's timeout.
	webhookTimeout = 10
)

// warnings collects the API server's Warning headers for one client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// cluster is the control plane and what the tests put in it.
type cluster struct {
	cp     *testpeers.ControlPlane
	client kubernetes.Interface
	warn   *warnings
}

func newCluster(t *testing.T) *cluster {
	cp := testpeers.StartControlPlane(t)
	cfg := rest.CopyConfig(cp.Config)
	w := &warnings{}
	cfg.WarningHandler = w
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{cp: cp, client: client, warn: w}
}

func (c *cluster) namespace(t *testing.T, name string) {
	t.Helper()
	_, err := c.client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}

func pod(name string, images ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	for i, img := range images {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	return p
}

// withImageVolume mounts ref as an image volume (volumes[].image) in p's
// first container.
func withImageVolume(p *corev1.Pod, ref string) *corev1.Pod {
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "tools",
		VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: ref, PullPolicy: corev1.PullIfNotPresent}}})
	p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "tools", MountPath: "/tools", ReadOnly: true})
	return p
}

func deployment(name, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

// webhookRules are the resources and operations hallmark must see: pods
// (created, or updated with new images), the ephemeralcontainers
// subresource (kubectl debug adds containers to a running pod through an
// UPDATE of it, which a rule on "pods" alone does not match), and every
// workload with a pod template.
func webhookRules() []admissionregistrationv1.RuleWithOperations {
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources}}
	}
	return []admissionregistrationv1.RuleWithOperations{
		rule("", "pods", "pods/ephemeralcontainers", "replicationcontrollers"),
		rule("apps", "deployments", "replicasets", "statefulsets", "daemonsets"),
		rule("batch", "jobs", "cronjobs"),
	}
}

// webhookByURL is every webhook these tests register: called by URL with
// caBundle, failing closed, without side effects, within timeout seconds,
// for rules, in every namespace but kube-system and excluded.
func webhookByURL(name, url string, caBundle []byte, rules []admissionregistrationv1.RuleWithOperations, timeout int32, excluded ...string) admissionregistrationv1.ValidatingWebhook {
	fail := admissionregistrationv1.Fail
	none := admissionregistrationv1.SideEffectClassNone
	return admissionregistrationv1.ValidatingWebhook{
		Name:                    name,
		ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle},
		Rules:                   rules,
		FailurePolicy:           &fail,
		SideEffects:             &none,
		TimeoutSeconds:          &timeout,
		AdmissionReviewVersions: []string{"v1"},
		NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: append([]string{"kube-system"}, excluded...)}}},
	}
}

// registerWebhooks registers a validating and a mutating webhook
// configuration, named name-validating and name-mutating, holding v and m
// (m made mutating with the given reinvocation policy).
func (c *cluster) registerWebhooks(t *testing.T, name string, v, m admissionregistrationv1.ValidatingWebhook, reinvoke admissionregistrationv1.ReinvocationPolicyType) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-mutating"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: m.Name, ClientConfig: m.ClientConfig, Rules: m.Rules, FailurePolicy: m.FailurePolicy,
			SideEffects: m.SideEffects, TimeoutSeconds: m.TimeoutSeconds, AdmissionReviewVersions: m.AdmissionReviewVersions,
			NamespaceSelector: m.NamespaceSelector, ReinvocationPolicy: &reinvoke,
		}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("register the mutating webhook: %v", err)
	}
	if _, err := c.client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-validating"},
		Webhooks:   []admissionregistrationv1.ValidatingWebhook{v},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("register the validating webhook: %v", err)
	}
}

// registerHallmark registers hallmark's validating and mutating webhooks by
// URL, as a user without a Service in front of hallmark would.
func (c *cluster) registerHallmark(t *testing.T, url string, caPEM []byte) {
	t.Helper()
	c.registerWebhooks(t, "hallmark",
		webhookByURL("validate.hallmark.dev", url+"/validate", caPEM, webhookRules(), webhookTimeout),
		webhookByURL("mutate.hallmark.dev", url+"/mutate", caPEM, webhookRules(), webhookTimeout),
		admissionregistrationv1.NeverReinvocationPolicy)
}

// waitForWebhook waits until the API server calls hallmark: it picks up
// webhook configurations asynchronously, a second or so after they are
// created. A dry run of an unsigned pod is refused once it does.
func (c *cluster) waitForWebhook(t *testing.T, unsigned string) {
	t.Helper()
	var err error
	if !proctest.Eventually(time.Minute, 200*time.Millisecond, func() bool {
		_, err = c.client.CoreV1().Pods(nsDemo).Create(context.Background(), pod("probe", unsigned),
			metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil && strings.Contains(err.Error(), "hallmark")
	}) {
		t.Fatalf("the API server never called hallmark; last answer: %v", err)
	}
}

// serveConfig is hallmark serve's configuration file for the tests.
func serveConfig(mode, certFile, keyFile, policy, store string) []byte {
	return fmt.Appendf(nil, `tls:
  certFile: %s
  keyFile: %s
mode: %s
trustStoreDir: %s
trustPolicy:
  file: %s
`, certFile, keyFile, mode, store, policy)
}

// TestKubernetes runs hallmark against a real API server: the Helm chart's
// objects, then admission through the registered webhooks in deny and
// audit mode, then `hallmark audit` over what was admitted.
func TestKubernetes(t *testing.T) {
	if testing.Short() {
		t.Skip("Kubernetes end-to-end test; runs without -short")
	}
	ctx := context.Background()
	c := newCluster(t)
	s := newSandbox(t)
	host := testpeers.StartDistribution(t)

	// Sign demo-pass's image with a new key; leave demo-fail's unsigned.
	s.hallmark("key", "create", "e2e", "--subject", "CN=e2e,O=Hallmark,ST=WA,C=US", "--key-type", "EC")
	s.writeFile(filepath.Join("ts", "x509", "ca", "e2e", "root.pem"), []byte(s.hallmark("key", "export-cert", "e2e", "--root-only").Stdout))
	store := filepath.Join(s.dir, "ts")
	policy := s.writeFile("trustpolicy.json", trustPolicy("ca:e2e"))
	passDigest := pushImage(t, host, "demo", "pass")
	pass := host + "/demo:pass"
	s.hallmark("sign", host+"/demo@"+passDigest, "--key", "e2e", "--plain-http")
	pushImage(t, host, "demo", "fail")
	fail := host + "/demo:fail"
	debugDigest := pushImage(t, host, "debug", "v1")
	s.hallmark("sign", host+"/debug@"+debugDigest, "--key", "e2e", "--plain-http")
	debug := host + "/debug:v1"

	t.Run("chart", func(t *testing.T) { testChart(t, c, s, pass) })

	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certFile := s.writeFile("tls.crt", certPEM)
	keyFile := s.writeFile("tls.key", keyPEM)
	configFile := s.writeFile("config.yaml", serveConfig("deny", certFile, keyFile, policy, store))
	srv := s.serve(caPEM, "--config", configFile, "--plain-http")

	c.namespace(t, nsDemo)
	c.namespace(t, nsClean)
	c.registerHallmark(t, srv.url, caPEM)
	c.waitForWebhook(t, fail)
	pods := c.client.CoreV1().Pods(nsDemo)

	t.Run("deny mode refuses demo-fail with the reason", func(t *testing.T) {
		_, err := pods.Create(ctx, pod("demo-fail", fail), metav1.CreateOptions{})
		if err == nil {
			t.Fatal("demo-fail (unsigned) was admitted in deny mode")
		}
		for _, want := range []string{`admission webhook "validate.hallmark.dev" denied the request`, fail, "no Notary Project signature"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the API error does not say %q:\n%v", want, err)
			}
		}
	})
	t.Run("demo-pass is admitted and pinned to its digest", func(t *testing.T) {
		if _, err := pods.Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{}); err != nil {
			t.Fatalf("demo-pass (signed) refused: %v", err)
		}
		got, err := pods.Get(ctx, "demo-pass", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := pass + "@" + passDigest; got.Spec.Containers[0].Image != want {
			t.Fatalf("stored image %q, want %q", got.Spec.Containers[0].Image, want)
		}
		if _, err := c.client.CoreV1().Pods(nsClean).Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{}); err != nil {
			t.Fatalf("demo-pass refused in %s: %v", nsClean, err)
		}
	})
	t.Run("a Deployment with an unsigned image is refused", func(t *testing.T) {
		_, err := c.client.AppsV1().Deployments(nsDemo).Create(ctx, deployment("web-fail", fail), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "no Notary Project signature") {
			t.Fatalf("want a refusal naming the missing signature, got %v", err)
		}
		if _, err := c.client.AppsV1().Deployments(nsDemo).Create(ctx, deployment("web-pass", pass), metav1.CreateOptions{}); err != nil {
			t.Fatalf("Deployment with a signed image refused: %v", err)
		}
	})
	t.Run("kube-system is exempt", func(t *testing.T) {
		if _, err := c.client.CoreV1().Pods("kube-system").Create(ctx, pod("system-unsigned", fail), metav1.CreateOptions{}); err != nil {
			t.Fatalf("unsigned pod refused in kube-system: %v", err)
		}
	})
	t.Run("init containers are checked", func(t *testing.T) {
		p := pod("init-fail", pass)
		p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: fail}}
		_, err := pods.Create(ctx, p, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), fail) {
			t.Fatalf("want a refusal naming the unsigned init container image, got %v", err)
		}
	})
	t.Run("image volumes are checked and pinned", func(t *testing.T) {
		_, err := pods.Create(ctx, withImageVolume(pod("volume-fail", pass), fail), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), fail) || !strings.Contains(err.Error(), "no Notary Project signature") {
			t.Fatalf("want a refusal naming the unsigned image volume %s, got %v", fail, err)
		}
		d := deployment("web-volume-fail", pass)
		d.Spec.Template.Spec = withImageVolume(&corev1.Pod{Spec: d.Spec.Template.Spec}, fail).Spec
		if _, err := c.client.AppsV1().Deployments(nsDemo).Create(ctx, d, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), fail) {
			t.Fatalf("want a Deployment whose template mounts an unsigned image volume refused, got %v", err)
		}
		if _, err := pods.Create(ctx, withImageVolume(pod("volume-pass", pass), pass), metav1.CreateOptions{}); err != nil {
			t.Fatalf("a pod with a signed image volume was refused: %v", err)
		}
		got, err := pods.Get(ctx, "volume-pass", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := pass + "@" + passDigest; got.Spec.Volumes[0].Image.Reference != want {
			t.Fatalf("stored image volume %q, want %q", got.Spec.Volumes[0].Image.Reference, want)
		}
	})
	t.Run("ephemeral containers are checked", func(t *testing.T) {
		if _, err := pods.Create(ctx, pod("debug-target", pass), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		addEphemeral := func(image string) error {
			p, err := pods.Get(ctx, "debug-target", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, corev1.EphemeralContainer{
				EphemeralContainerCommon: corev1.EphemeralContainerCommon{
					Name: fmt.Sprintf("debug%d", len(p.Spec.EphemeralContainers)), Image: image,
					ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile}})
			_, err = pods.UpdateEphemeralContainers(ctx, "debug-target", p, metav1.UpdateOptions{})
			return err
		}
		if err := addEphemeral(fail); err == nil || !strings.Contains(err.Error(), "no Notary Project signature") {
			t.Fatalf("want an unsigned ephemeral container refused, got %v", err)
		}
		if err := addEphemeral(debug); err != nil {
			t.Fatalf("signed ephemeral container refused: %v", err)
		}
		p, err := pods.Get(ctx, "debug-target", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(p.Spec.EphemeralContainers); n != 1 || p.Spec.EphemeralContainers[0].Image != debug+"@"+debugDigest {
			t.Fatalf("want one ephemeral container pinned to %s, got %+v", debug+"@"+debugDigest, p.Spec.EphemeralContainers)
		}
	})
	t.Run("a hanging registry gets hallmark's answer, not a webhook timeout", func(t *testing.T) {
		hanging := testpeers.HangingRegistry(t) + "/demo:hang"
		_, err := pods.Create(ctx, pod("demo-hang", hanging), metav1.CreateOptions{})
		if err == nil {
			t.Fatal("a pod whose registry never answers was admitted")
		}
		msg := err.Error()
		if !strings.Contains(msg, `admission webhook "`) || !strings.Contains(msg, "denied the request") || !strings.Contains(msg, hanging) {
			t.Fatalf("want hallmark's denial naming %s, got %v", hanging, err)
		}
		if strings.Contains(msg, "failed calling webhook") || strings.Contains(msg, "context deadline exceeded") {
			t.Fatalf("the API server timed out on the webhook instead of getting hallmark's answer: %v", err)
		}
	})

	t.Run("a tag whose first lookup is slow is refused, never admitted unpinned", func(t *testing.T) {
		// A registry that holds hallmark's first lookup of the tag past the
		// deadline and answers later ones at once: before, mutation let
		// the tag through unpinned and validation verified it on a second
		// lookup, leaving the kubelet to resolve the tag a third time.
		var held atomic.Bool
		target, _ := url.Parse("http://" + host)
		forward := httputil.NewSingleHostReverseProxy(target)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/manifests/pass") && held.CompareAndSwap(false, true) {
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
				return
			}
			forward.ServeHTTP(w, r)
		}))
		defer proxy.Close()
		slow := strings.TrimPrefix(proxy.URL, "http://") + "/demo:pass"

		_, err := pods.Create(ctx, pod("drift", slow), metav1.CreateOptions{})
		if err == nil {
			got, _ := pods.Get(ctx, "drift", metav1.GetOptions{})
			t.Fatalf("the pod was admitted with image %q after the tag's lookup timed out; want a refusal", got.Spec.Containers[0].Image)
		}
		if !strings.Contains(err.Error(), "cannot be pinned") || !strings.Contains(err.Error(), slow) {
			t.Errorf("want a refusal saying %s cannot be pinned, got %v", slow, err)
		}
		// Once the registry answers, the tag is pinned to the digest that
		// verified, and that is what is stored.
		if _, err := pods.Create(ctx, pod("drift", slow), metav1.CreateOptions{}); err != nil {
			t.Fatalf("the signed tag was refused once its registry answered: %v", err)
		}
		got, err := pods.Get(ctx, "drift", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if want := slow + "@" + passDigest; got.Spec.Containers[0].Image != want {
			t.Fatalf("stored image %q, want %q", got.Spec.Containers[0].Image, want)
		}
		// Its registry goes away with the test: the audit below must not
		// find the pod.
		if err := pods.Delete(ctx, "drift", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	})

	// Audit mode, by a configuration reload.
	if err := os.WriteFile(configFile, serveConfig("audit", certFile, keyFile, policy, store), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.waitForLog(t, "configuration reloaded", 1)
	t.Run("audit mode admits demo-fail with a warning", func(t *testing.T) {
		c.warn.take()
		if _, err := pods.Create(ctx, pod("demo-fail", fail), metav1.CreateOptions{}); err != nil {
			t.Fatalf("demo-fail refused in audit mode: %v", err)
		}
		ws := c.warn.take()
		if !strings.Contains(strings.Join(ws, "\n"), fail) {
			t.Fatalf("no warning names %s; warnings: %q", fail, ws)
		}
		if _, err := c.client.AppsV1().Deployments(nsDemo).Create(ctx, deployment("web-fail", fail), metav1.CreateOptions{}); err != nil {
			t.Fatalf("Deployment refused in audit mode: %v", err)
		}
	})

	t.Run("the chart's Gatekeeper template with hallmark's provider answers", func(t *testing.T) {
		testGatekeeperTemplate(t, s, srv.url, caPEM, pass, fail)
	})
	t.Run("hallmark audit", func(t *testing.T) {
		testAudit(t, c, s, policy, store, fail, pass)
	})
	t.Run("serve's periodic audit runs on one elected replica, exports metrics, posts Events and hands over", func(t *testing.T) {
		testPeriodicAudit(t, c, s, caPEM, configFile)
	})
}

// testPeriodicAudit runs two replicas of `hallmark serve --audit-interval`
// as the chart's service account, electing the auditor with the chart's
// Lease: one audits, exports the metrics and posts Events; the other does
// not; when the auditor shuts down, the other takes over.
func testPeriodicAudit(t *testing.T, c *cluster, s *sandbox, caPEM []byte, configFile string) {
	ctx := context.Background()
	leaseName := "hallmark-audit" // the chart's, for release "hallmark"
	kubeconfig := impersonatingFile(s, c.cp, "system:serviceaccount:"+chartNamespace+":hallmark")
	args := []string{"--config", configFile, "--plain-http", "--audit-interval", "1s", "--kubeconfig", kubeconfig,
		"--audit-lease", chartNamespace + "/" + leaseName}
	replicas := []*server{s.serve(caPEM, args...), s.serve(caPEM, args...)}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	metric := func(srv *server, series string) (float64, bool) {
		resp, err := client.Get(srv.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, series+" ") {
				var v float64
				fmt.Sscan(strings.Fields(line)[1], &v)
				return v, true
			}
		}
		return 0, false
	}
	// auditor waits until exactly one of the running replicas has audited
	// and says it holds the Lease, and returns it.
	auditor := func(running []*server) *server {
		t.Helper()
		var leaders []*server
		proctest.Eventually(30*time.Second, 100*time.Millisecond, func() bool {
			leaders = nil
			for _, srv := range running {
				if v, _ := metric(srv, "hallmark_audit_leader"); v == 1 && strings.Contains(srv.logs.String(), `"msg":"periodic audit"`) {
					leaders = append(leaders, srv)
				}
			}
			return len(leaders) > 0
		})
		if len(leaders) != 1 {
			for _, srv := range running {
				t.Logf("replica %s:\n%s", srv.url, srv.logs)
			}
			t.Fatalf("%d replicas audit; want exactly one", len(leaders))
		}
		return leaders[0]
	}
	leader := auditor(replicas)
	follower := replicas[0]
	if follower == leader {
		follower = replicas[1]
	}
	holder := func() string {
		l, err := c.client.CoordinationV1().Leases(chartNamespace).Get(ctx, leaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the audit Lease: %v", err)
		}
		if l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	first := holder()
	if first == "" || !strings.Contains(leader.logs.String(), first) {
		t.Fatalf("the Lease names %q, not the auditing replica", first)
	}
	if strings.Contains(follower.logs.String(), `"msg":"periodic audit"`) {
		t.Fatalf("the replica without the Lease audited too:\n%s", follower.logs)
	}
	if _, ok := metric(follower, `hallmark_audit_objects{compliance="noncompliant"}`); ok {
		t.Errorf("the replica without the Lease exports audit results")
	}
	// demo-fail (Pod) and web-fail (Deployment) in nsDemo at least.
	if n, _ := metric(leader, `hallmark_audit_objects{compliance="noncompliant"}`); n < 2 {
		t.Fatalf("hallmark_audit_objects{compliance=noncompliant} = %v, want at least 2", n)
	}
	var evs *corev1.EventList
	if !proctest.Eventually(5*time.Second, 100*time.Millisecond, func() bool {
		var err error
		if evs, err = c.client.CoreV1().Events(nsDemo).List(ctx, metav1.ListOptions{FieldSelector: "reason=ImageNotVerified"}); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ev := range evs.Items {
			if ev.InvolvedObject.Kind == "Pod" && ev.InvolvedObject.Name == "demo-fail" && ev.Type == "Warning" && strings.Contains(ev.Message, "not verified") {
				found = true
			}
			if ev.InvolvedObject.Name == "demo-pass" {
				t.Fatalf("an Event was posted on demo-pass, whose image verifies: %s", ev.Message)
			}
		}
		return found
	}) {
		t.Fatalf("no ImageNotVerified Event on demo-fail; events: %+v\n%s", evs.Items, leader.logs)
	}

	// The auditor shuts down and releases the Lease; the other replica
	// takes it over (at its next try, not after the Lease expires).
	leader.stop()
	if !strings.Contains(leader.logs.String(), "lease released") {
		t.Errorf("the auditor did not release the Lease on shutdown:\n%s", leader.logs)
	}
	if auditor([]*server{follower}) != follower {
		t.Fatal("unreachable")
	}
	if h := holder(); h == first || h == "" || !strings.Contains(follower.logs.String(), h) {
		t.Fatalf("after the hand-over the Lease names %q; want the remaining replica", h)
	}
}

// auditReport is the part of `hallmark audit -o json` the test reads.
type auditReport struct {
	Compliant bool `json:"compliant"`
	Failed    int  `json:"failed"`
	Findings  []struct {
		Namespace, Kind, Name, Image, Verdict, Reason string
	} `json:"findings"`
}

func testAudit(t *testing.T, c *cluster, s *sandbox, policy, store, fail, pass string) {
	common := []string{"audit", "--kubeconfig", c.cp.Kubeconfig, "--trust-policy", policy, "--trust-store", store, "--plain-http"}
	r := s.run(append(common, "-o", "json")...)
	if r.Code != 1 {
		t.Fatalf("audit of a cluster with unsigned workloads: want exit 1, got %s", r)
	}
	var rep auditReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("audit -o json: %v\n%s", err, r.Stdout)
	}
	verdicts := map[string]string{}
	for _, f := range rep.Findings {
		verdicts[f.Namespace+"/"+f.Kind+"/"+f.Name+" "+f.Image] = f.Verdict
	}
	// The mutating webhook pinned the tags that verified to their digests;
	// the chart's Deployment was stored before the webhooks were
	// registered, so its tag was never pinned: in deny mode it fails,
	// although the tag verifies, because the kubelet resolves it again.
	want := map[string]string{
		nsDemo + "/Pod/demo-fail " + fail:               "fail",
		nsDemo + "/Deployment/web-fail " + fail:         "fail",
		nsDemo + "/Deployment/web-pass " + pass:         "pass",
		nsDemo + "/Pod/demo-pass " + pass:               "pass",
		nsDemo + "/Pod/debug-target " + pass:            "pass",
		nsClean + "/Pod/demo-pass " + pass:              "pass",
		"kube-system/Pod/system-unsigned " + fail:       "skipped",
		chartNamespace + "/Deployment/hallmark " + pass: "fail",
		nsDemo + "/Pod/volume-pass " + pass:             "pass",
	}
	for key, verdict := range want {
		found := false
		for got, v := range verdicts {
			if got == key || strings.HasPrefix(got, key+"@") {
				found = true
				if v != verdict {
					t.Errorf("%s: verdict %s, want %s", got, v, verdict)
				}
			}
		}
		if !found {
			t.Errorf("audit did not report %s; it reported %v", key, verdicts)
		}
	}
	if rep.Compliant || rep.Failed != 3 {
		t.Errorf("want 3 failures and not compliant, got failed=%d compliant=%v", rep.Failed, rep.Compliant)
	}
	for _, f := range rep.Findings {
		if f.Kind == "Deployment" && f.Name == "hallmark" && !strings.Contains(f.Reason, "names a tag without a digest") {
			t.Errorf("the unpinned chart Deployment fails for another reason: %+v", f)
		}
	}

	text := s.run(common...)
	if text.Code != 1 || !strings.Contains(text.Stdout, "NAMESPACE") || !strings.Contains(text.Stdout, "demo-fail") || !strings.Contains(text.Stdout, "FAIL") {
		t.Errorf("audit table: %s", text)
	}
	// The kubeconfig from $KUBECONFIG this time.
	clean := s.runEnv([]string{"KUBECONFIG=" + c.cp.Kubeconfig}, "audit", "--namespace", nsClean, "--trust-policy", policy, "--trust-store", store, "--plain-http")
	if clean.Code != 0 || !strings.Contains(clean.Stdout, "PASS") || strings.Contains(clean.Stdout, "demo-fail") {
		t.Errorf("audit of a namespace holding only signed images: want exit 0, got %s", clean)
	}

	// The chart's service account can list everything audit reads.
	sa := impersonatingFile(s, c.cp, "system:serviceaccount:"+chartNamespace+":hallmark")
	if r := s.run("audit", "--kubeconfig", sa, "--trust-policy", policy, "--trust-store", store, "--plain-http", "-o", "json"); r.Code != 1 || !strings.Contains(r.Stdout, "demo-fail") {
		t.Errorf("audit as the chart's service account: %s", r)
	}
	if r := s.run("audit", "--kubeconfig", impersonatingFile(s, c.cp, "system:serviceaccount:default:nobody"), "--trust-policy", policy, "--trust-store", store, "--plain-http"); r.Code != 1 || !strings.Contains(r.Stderr, "forbidden") {
		t.Errorf("audit as a service account without the chart's role: want a forbidden error, got %s", r)
	}
}

// impersonatingFile writes a kubeconfig for the administrator acting as
// user, and returns its path.
func impersonatingFile(s *sandbox, cp *testpeers.ControlPlane, user string) string {
	s.t.Helper()
	b, err := os.ReadFile(cp.Kubeconfig)
	if err != nil {
		s.t.Fatal(err)
	}
	kc := strings.Replace(string(b), "    token: ", "    as: "+user+"\n    token: ", 1)
	return s.writeFile("kubeconfig-"+strings.ReplaceAll(user, ":", "-"), []byte(kc))
}
