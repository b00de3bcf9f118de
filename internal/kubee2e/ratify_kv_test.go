package kubee2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"oras.land/oras-go/v2/registry/remote/auth"
	"sigs.k8s.io/yaml"

	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvtest"
	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// kvWorld is the Azure side of the reference setup's certificate store: a
// Microsoft Entra ID authority and a Key Vault (acrtest and kvtest, fakes
// written from Microsoft's documentation that check every request
// hallmark sends), and a registry over TLS (the real distribution
// registry behind a TLS front; the seed's Store reads it anonymously, as
// its host is not one of ACR's).
type kvWorld struct {
	host   string // the registry's host:port
	entra  *acrtest.Entra
	vault  *kvtest.Vault
	env    []string // what AKS injects, SSL_CERT_FILE and HTTPS_PROXY
	client *auth.Client
}

func newKVWorld(t *testing.T, s *sandbox) *kvWorld {
	t.Helper()
	w := &kvWorld{}
	entraSrv := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { w.entra.ServeHTTP(rw, r) }))
	t.Cleanup(entraSrv.Close)
	w.entra = acrtest.NewEntra(t, strings.TrimPrefix(entraSrv.URL, "https://"), acrTenantID, acrClientID, acrAssertion)
	w.vault = kvtest.New(t, "hallmark-akv", w.entra, entraSrv.URL, acrTenantID)
	backend := testpeers.StartDistribution(t)
	target := &url.URL{Scheme: "http", Host: backend}
	front := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
		pr.Out.Host = pr.In.Host
	}})
	t.Cleanup(front.Close)
	w.host = strings.TrimPrefix(front.URL, "https://")
	// httptest's servers share one certificate; the vault has its own CA.
	roots := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), w.vault.CAPEM...)
	w.env = []string{
		"SSL_CERT_FILE=" + s.writeFile("kv/roots.pem", roots),
		"HTTPS_PROXY=" + w.vault.Proxy(),
		"AZURE_FEDERATED_TOKEN_FILE=" + s.writeFile("kv/azure-identity-token", []byte(acrAssertion)),
		"AZURE_CLIENT_ID=" + acrClientID,
		"AZURE_TENANT_ID=" + acrTenantID,
		"AZURE_AUTHORITY_HOST=" + entraSrv.URL + "/",
	}
	pool := x509.NewCertPool()
	pool.AddCert(front.Certificate())
	w.client = &auth.Client{Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	return w
}

func (w *kvWorld) push(t *testing.T, repo, tag string) string {
	t.Helper()
	return pushSample(t, w.client, w.host, repo, tag)
}

// seedFile is one of the walkthrough's files, verbatim, with only its
// $VARIABLES substituted.
func seedFile(t *testing.T, name string, vars map[string]string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot(), "internal", "ratify", "testdata", "seed", name))
	if err != nil {
		t.Fatal(err)
	}
	return os.Expand(string(data), func(k string) string {
		v, ok := vars[k]
		if !ok {
			t.Fatalf("%s: no value for $%s", name, k)
		}
		return v
	})
}

// applyIn applies one resource as `kubectl apply -n ns` does: in ns when
// the kind is namespaced and the file names no namespace; it replaces the
// spec of one that exists.
func applyIn(t *testing.T, dyn dynamic.Interface, ns, doc string) {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	namespaced := u.GetKind() == ratify.KindCertificateStore
	var c dynamic.ResourceInterface = dyn.Resource(schema.GroupVersionResource{Group: ratify.GroupV1, Version: ratify.VersionBeta1, Resource: ratify.Plural(u.GetKind())})
	if namespaced {
		u.SetNamespace(ns)
		c = c.(dynamic.NamespaceableResourceInterface).Namespace(ns)
	}
	cur, err := c.Get(context.Background(), u.GetName(), metav1.GetOptions{})
	if err != nil {
		if _, err := c.Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		return
	}
	cur.Object["spec"] = u.Object["spec"]
	if _, err := c.Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("update %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// ratifyStatus reads a resource's status.
func ratifyStatus(t *testing.T, dyn dynamic.Interface, kind, ns, name string) map[string]any {
	t.Helper()
	c := dyn.Resource(schema.GroupVersionResource{Group: ratify.GroupV1, Version: ratify.VersionBeta1, Resource: ratify.Plural(kind)})
	var o *unstructured.Unstructured
	var err error
	if ns != "" {
		o, err = c.Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	} else {
		o, err = c.Get(context.Background(), name, metav1.GetOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	st, _ := o.Object["status"].(map[string]any)
	return st
}

// The reference setup end to end, its certificate store in Key Vault: the
// walkthrough's store_config.yaml, akv-certificate-store.yaml and
// akv-verifier.yaml applied with only their $VARIABLES substituted;
// hallmark reads the vault as the identity the CertificateStore names
// (workload identity), and the status reads as Ratify's (issuccess,
// lastfetchedtime, the certificates fetched in properties). A signed pod
// is admitted and an unsigned one denied through the webhook. Then the
// failures: a wrong client ID, an expired federated token, a certificate
// version that does not exist and a vault that cannot be reached each keep
// hallmark from starting (so that nothing is admitted) and are said in one
// line, naming the identity, the certificate and what to check, in the
// CertificateStore's status and the log; and a vault that fails on a
// refresh leaves the last good certificates in force and says so.
func TestRatifySeedKeyVault(t *testing.T) {
	if testing.Short() {
		t.Skip("Kubernetes end-to-end test; runs without -short")
	}
	ctx := context.Background()
	c := newCluster(t)
	s := newSandbox(t)
	w := newKVWorld(t, s)
	dyn, err := dynamic.NewForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}

	// The signing certificate is in the vault (a self-signed one, as the
	// walkthrough creates); the image is signed with its key.
	s.hallmark("key", "create", "e2e", "--subject", "CN=e2e,O=Hallmark,ST=WA,C=US", "--key-type", "EC")
	block, _ := pem.Decode([]byte(s.hallmark("key", "export-cert", "e2e", "--root-only").Stdout))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	version := kvtest.NewVersion()
	w.vault.Add("hallmark-signing", version, cert)
	passDigest := w.push(t, "nginx", "pass")
	if r := s.runEnv(w.env[:1], "sign", w.host+"/nginx@"+passDigest, "--key", "e2e"); r.Code != 0 {
		t.Fatalf("sign: %s", r)
	}
	w.push(t, "nginx", "fail")

	vars := applySeed(t, c, dyn, w.vault.URL, version)
	caPEM, args := ratifyServeArgs(t, c, s, w.env)
	srv := s.serve(caPEM, args...)

	// kubectl get certificatestore,verifier
	cs := ratifyStatus(t, dyn, ratify.KindCertificateStore, "gatekeeper-system", "certstore-akv")
	if cs["issuccess"] != true || cs["lastfetchedtime"] == nil {
		t.Errorf("certificatestore status %v, want issuccess true and lastfetchedtime\n%s", cs, srv.logs)
	}
	props, _ := json.Marshal(cs["properties"])
	var got struct {
		Certificates []map[string]string `json:"Certificates"`
	}
	if err := json.Unmarshal(props, &got); err != nil || len(got.Certificates) != 1 ||
		got.Certificates[0]["CertificateName"] != "hallmark-signing" || got.Certificates[0]["Version"] != version || got.Certificates[0]["LastRefreshed"] == "" {
		t.Errorf("certificatestore properties %s, want Ratify's {Certificates: [{CertificateName, Version, LastRefreshed}]}", props)
	}
	if st := ratifyStatus(t, dyn, ratify.KindVerifier, "", "verifier-notation"); st["issuccess"] != true {
		t.Errorf("verifier status %v\n%s", st, srv.logs)
	}
	if st := ratifyStatus(t, dyn, ratify.KindStore, "", "store-oras"); st["issuccess"] != true {
		t.Errorf("store status %v\n%s", st, srv.logs)
	}
	// What hallmark asked the vault, as Get Certificate documents it
	// (kvtest checks api-version, Host and the token's audience).
	if want := "GET /certificates/hallmark-signing/" + version; !slices.Contains(w.vault.Requests, want) {
		t.Errorf("vault requests %v, want %s", w.vault.Requests, want)
	}

	pass, fail := w.host+"/nginx:pass", w.host+"/nginx:fail"
	c.namespace(t, nsDemo)
	c.registerHallmark(t, srv.url, caPEM)
	c.waitForWebhook(t, fail)
	pods := c.client.CoreV1().Pods(nsDemo)
	if _, err := pods.Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{}); err != nil {
		t.Fatalf("signed pod refused: %v\n%s", err, srv.logs)
	}
	if _, err := pods.Create(ctx, pod("demo-fail", fail), metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "no Notary Project signature") {
		t.Fatalf("unsigned pod: want a denial naming the missing signature, got %v", err)
	}
	srv.stop()

	// Each failure keeps hallmark from becoming ready, not from running:
	// it serves, /readyz fails, every pod is denied with a message that
	// says why, the status and the log say what is wrong, and it becomes
	// ready once the fault is cleared, without a restart (in a pod, an
	// exit would be a crash loop whose back-off delays the recovery).
	for _, tc := range []struct {
		name         string
		vars         map[string]string
		fault, clear func()
		want         []string
	}{
		{name: "wrong client ID", vars: map[string]string{"IDENTITY_CLIENT_ID": "0f0f0f0f-0000-4000-8000-00000000dead"},
			want: []string{"client ID 0f0f0f0f-0000-4000-8000-00000000dead", "AADSTS700016", "certificate hallmark-signing", "check clientID and tenantID"}},
		{name: "expired federated token", fault: func() { w.entra.SetAssertionExpired(true) }, clear: func() { w.entra.SetAssertionExpired(false) },
			want: []string{"client ID " + acrClientID, "AADSTS700024", "certificate hallmark-signing", "projected token file"}},
		{name: "certificate version not found", vars: map[string]string{"VERSION_ID": "0123456789abcdef0123456789abcdef"},
			want: []string{"no certificate hallmark-signing version 0123456789abcdef0123456789abcdef in Key Vault " + w.vault.URL, "client ID " + acrClientID, "check the vault URI, the certificate's name and version"}},
		{name: "vault unreachable", fault: func() { w.vault.SetDown(true) }, clear: func() { w.vault.SetDown(false) },
			want: []string{"could not reach Key Vault " + w.vault.URL, "client ID " + acrClientID, "check the vault URI"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := map[string]string{}
			for k, x := range vars {
				v[k] = x
			}
			for k, x := range tc.vars {
				v[k] = x
			}
			applyIn(t, dyn, "gatekeeper-system", seedFile(t, "akv-certificate-store.yaml", v))
			defer applyIn(t, dyn, "gatekeeper-system", seedFile(t, "akv-certificate-store.yaml", vars))
			if tc.fault != nil {
				tc.fault()
				defer tc.clear()
			}
			srv := s.start(caPEM, args...)
			defer srv.stop()
			var st map[string]any
			if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
				st = ratifyStatus(t, dyn, ratify.KindCertificateStore, "gatekeeper-system", "certstore-akv")
				return st["issuccess"] == false
			}) {
				t.Fatalf("status %v, want issuccess false\n%s", st, srv.logs)
			}
			msg, _ := st["error"].(string)
			if st["brieferror"] == nil {
				t.Errorf("status %v, want error and brieferror", st)
			}
			for _, want := range tc.want {
				if !strings.Contains(msg, want) {
					t.Errorf("status error %q does not say %q", msg, want)
				}
				if !strings.Contains(srv.logs.String(), want) {
					t.Errorf("the log does not say %q:\n%s", want, srv.logs)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("status error is more than one line: %q", msg)
			}
			if code, body := srv.get("/readyz"); code != http.StatusServiceUnavailable || !srv.running() {
				t.Fatalf("with the fault, /readyz answered %d %q (running %v), want 503 from a running server\n%s", code, body, srv.running(), srv.logs)
			}
			// The API server calls it (the webhook's failurePolicy would
			// deny too, were it not ready in a Service): every pod is
			// denied, with the reason.
			deleteHallmarkWebhooks(t, c)
			c.registerHallmark(t, srv.url, caPEM)
			c.waitForWebhook(t, pass)
			name := "demo-pass-" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			if _, err := pods.Create(ctx, pod(name, pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil || !strings.Contains(err.Error(), "no configuration in force") {
				t.Errorf("a signed pod while hallmark has no configuration: want a denial that says so, got %v", err)
			}

			// The fault is cleared: ready without a restart, and the
			// signed pod is admitted.
			applyIn(t, dyn, "gatekeeper-system", seedFile(t, "akv-certificate-store.yaml", vars))
			if tc.clear != nil {
				tc.clear()
			}
			srv.waitReady(t, 90*time.Second)
			if _, err := pods.Create(ctx, pod(name, pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Errorf("signed pod refused once the fault is cleared: %v\n%s", err, srv.logs)
			}
			// The status is written once the configuration is in force.
			if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
				st = ratifyStatus(t, dyn, ratify.KindCertificateStore, "gatekeeper-system", "certstore-akv")
				return st["issuccess"] == true
			}) {
				t.Errorf("status once the fault is cleared: %v", st)
			}
		})
	}

	// A vault that fails on a refresh: a KeyManagementProvider refreshed
	// every second (its refreshInterval), which the Verifier uses.
	applyIn(t, dyn, "gatekeeper-system", `apiVersion: config.ratify.deislabs.io/v1beta1
kind: KeyManagementProvider
metadata:
  name: kmp-akv
spec:
  type: azurekeyvault
  refreshInterval: 1s
  parameters:
    vaultURI: `+w.vault.URL+`/
    tenantID: `+acrTenantID+`
    clientID: `+acrClientID+`
    certificates:
      - name: hallmark-signing
        version: `+version+`
`)
	applyIn(t, dyn, "gatekeeper-system", strings.Replace(seedFile(t, "akv-verifier.yaml", vars), "- certstore-akv", "- kmp-akv", 1))
	deleteHallmarkWebhooks(t, c)
	srv = s.serve(caPEM, args...)
	kmp := func() map[string]any { return ratifyStatus(t, dyn, ratify.KindKeyManagementProvider, "", "kmp-akv") }
	good := kmp()
	if good["issuccess"] != true || good["lastfetchedtime"] == nil || good["properties"] == nil {
		t.Fatalf("key management provider status %v\n%s", good, srv.logs)
	}
	w.vault.SetDown(true)
	var st map[string]any
	if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		st = kmp()
		return st["issuccess"] == false
	}) {
		t.Fatalf("the vault is down and the status says %v\n%s", st, srv.logs)
	}
	if msg, _ := st["error"].(string); !strings.Contains(msg, "could not reach Key Vault "+w.vault.URL) || !strings.Contains(msg, "stay in force") {
		t.Errorf("status error %q: want the vault, and that the last good certificates stay in force", msg)
	}
	if st["lastfetchedtime"] == nil || st["properties"] == nil {
		t.Errorf("the last good fetch's lastfetchedtime and properties dropped: %v", st)
	}
	c.registerHallmark(t, srv.url, caPEM)
	c.waitForWebhook(t, fail)
	if _, err := pods.Create(ctx, pod("demo-pass-kept", pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("signed pod refused while the last good certificates are in force: %v\n%s", err, srv.logs)
	}
	w.vault.SetDown(false)
	if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return kmp()["issuccess"] == true }) {
		t.Errorf("the vault is back and the status says %v", kmp())
	}

	// Disabling the version in the vault revokes it, as in Ratify: at the
	// next refresh the status lists it with Enabled "false" and the signed
	// pod is denied. Enabled again, it is trusted again.
	enabled := func() string {
		props, _ := json.Marshal(kmp()["properties"])
		var got struct {
			Certificates []map[string]string `json:"Certificates"`
		}
		if json.Unmarshal(props, &got) != nil || len(got.Certificates) != 1 || got.Certificates[0]["Version"] != version {
			return ""
		}
		return got.Certificates[0]["Enabled"]
	}
	w.vault.Disable("hallmark-signing", version)
	if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return enabled() == "false" }) {
		t.Fatalf("the version is disabled and the status says %v\n%s", kmp(), srv.logs)
	}
	if st := kmp(); st["issuccess"] != true {
		t.Errorf("a disabled version is the vault's answer, not a failed fetch: %v", st)
	}
	if _, err := pods.Create(ctx, pod("demo-pass-revoked", pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil {
		t.Errorf("signed pod admitted after its certificate version was disabled in the vault\n%s", srv.logs)
	}
	if !strings.Contains(srv.logs.String(), "this source trusts nothing now") {
		t.Errorf("the log does not say that the source trusts nothing:\n%s", srv.logs)
	}
	w.vault.Enable("hallmark-signing", version)
	if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return enabled() == "true" }) {
		t.Fatalf("the version is enabled again and the status says %v", kmp())
	}
	if _, err := pods.Create(ctx, pod("demo-pass-enabled", pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("signed pod refused once the version is enabled again: %v\n%s", err, srv.logs)
	}

	// Deleting the certificate from the vault revokes it too (Ratify fails
	// the provider's fetch, and with it every verification needing it): the
	// status says it is gone and the signed pod is denied. Added back, it
	// is trusted again.
	w.vault.Delete("hallmark-signing")
	if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
		msg, _ := kmp()["error"].(string)
		return strings.Contains(msg, "nothing of it is trusted")
	}) {
		t.Fatalf("the certificate is deleted and the status says %v\n%s", kmp(), srv.logs)
	}
	if _, err := pods.Create(ctx, pod("demo-pass-deleted", pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil {
		t.Errorf("signed pod admitted after its certificate was deleted from the vault\n%s", srv.logs)
	}
	w.vault.Add("hallmark-signing", version, cert)
	if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool { return enabled() == "true" && kmp()["issuccess"] == true }) {
		t.Fatalf("the certificate is back and the status says %v", kmp())
	}
	if _, err := pods.Create(ctx, pod("demo-pass-back", pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("signed pod refused once the certificate is back: %v\n%s", err, srv.logs)
	}
}

// Registry credentials that fail at admission, with the reference setup's
// Store (azureWorkloadIdentity) in front of an ACR (the real distribution
// registry behind acrtest's token service): a wrong client ID, an expired
// federated token and an exchange ACR refuses each deny the pod, with one
// line naming the identity, the registry and what to check; when the
// fault is cleared the signed pod is admitted again.
func TestRatifyACRFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("Kubernetes end-to-end test; runs without -short")
	}
	ctx := context.Background()
	c := newCluster(t)
	s := newSandbox(t)
	w := newACRWorld(t, s)
	dyn, err := dynamic.NewForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	s.hallmark("key", "create", "e2e", "--subject", "CN=e2e,O=Hallmark,ST=WA,C=US", "--key-type", "EC")
	root := s.hallmark("key", "export-cert", "e2e", "--root-only").Stdout
	passDigest := w.push(t, "nginx", "pass")
	if r := s.runEnv([]string{w.env[0], "DOCKER_CONFIG=" + w.pusher}, "sign", w.host+"/nginx@"+passDigest, "--key", "e2e"); r.Code != 0 {
		t.Fatalf("sign: %s", r)
	}
	w.push(t, "nginx", "fail")
	applyRatifyCRDs(t, dyn)
	c.namespace(t, "gatekeeper-system")
	const wrongClient = "0f0f0f0f-0000-4000-8000-00000000dead"
	resources := ratifyACRResources(w.host, root)
	for _, doc := range strings.Split(strings.Replace(resources, "clientID: "+acrClientID, "clientID: "+wrongClient, 1), "\n---\n") {
		applyIn(t, dyn, "gatekeeper-system", doc)
	}
	caPEM, args := ratifyServeArgs(t, c, s, w.env)
	srv := s.serve(caPEM, args...)
	pass, fail := w.host+"/nginx:pass", w.host+"/nginx:fail"
	c.namespace(t, nsDemo)
	c.registerHallmark(t, srv.url, caPEM)
	c.waitForWebhook(t, fail)
	pods := c.client.CoreV1().Pods(nsDemo)
	// denied waits until the signed pod is denied with every one of want
	// (a changed Store takes a list interval to be served).
	denied := func(t *testing.T, want ...string) {
		t.Helper()
		var err error
		if !proctest.Eventually(45*time.Second, 500*time.Millisecond, func() bool {
			_, err = pods.Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err == nil {
				return false
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					return false
				}
			}
			return true
		}) {
			t.Fatalf("signed pod: want a denial saying %q, got %v\n%s", want, err, srv.logs)
		}
		t.Logf("denied: %v", err)
	}

	t.Run("wrong client ID", func(t *testing.T) {
		denied(t, "client ID "+wrongClient, w.host, "AADSTS700016", "check clientID and tenantID")
	})
	applyIn(t, dyn, "gatekeeper-system", strings.Split(resources, "\n---\n")[0]) // the right client ID
	t.Run("expired federated token", func(t *testing.T) {
		w.entra.SetAssertionExpired(true)
		defer w.entra.SetAssertionExpired(false)
		denied(t, "client ID "+acrClientID, w.host, "AADSTS700024", "projected token file")
	})
	t.Run("exchange refused", func(t *testing.T) {
		w.acr.SetRefuseExchange(true)
		defer w.acr.SetRefuseExchange(false)
		denied(t, "client ID "+acrClientID, w.host, "refused to exchange", "AcrPull")
	})
	var err2 error
	if !proctest.Eventually(45*time.Second, 500*time.Millisecond, func() bool {
		_, err2 = pods.Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err2 == nil
	}) {
		t.Errorf("with the faults cleared the signed pod is still refused: %v\n%s", err2, srv.logs)
	}
}

// deleteHallmarkWebhooks removes what registerHallmark made, if it is there.
func deleteHallmarkWebhooks(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	adm := c.client.AdmissionregistrationV1()
	if err := adm.ValidatingWebhookConfigurations().Delete(ctx, "hallmark-validating", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err := adm.MutatingWebhookConfigurations().Delete(ctx, "hallmark-mutating", metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
}

// The reference setup with all of its parts at once: the walkthrough's
// three resources applied with only their $VARIABLES substituted, the
// Store's authProvider azureWorkloadIdentity with ACR's default endpoints
// (*.azurecr.io), the certificate store in Key Vault (kvtest, reached as
// https://hallmark-akv.vault.azure.net), and the registry an ACR called
// myregistry.azurecr.io (the real distribution registry in token-auth
// mode behind acrtest's token service), both reached through one CONNECT
// proxy (HTTPS_PROXY) that refuses any other host. hallmark reads the
// vault and the registry as the pod's workload identity: the statuses
// say success, a signed pod (by digest) is admitted and an unsigned one
// denied through the webhook, and ACR saw the exchange and the token
// requests.
func TestRatifySeedKeyVaultACR(t *testing.T) {
	if testing.Short() {
		t.Skip("Kubernetes end-to-end test; runs without -short")
	}
	ctx := context.Background()
	c := newCluster(t)
	s := newSandbox(t)
	w := newACRWorldNamed(t, s, "myregistry.azurecr.io")
	vault := kvtest.New(t, "hallmark-akv", w.entra, w.entraURL, acrTenantID)
	vault.Tunnel(w.host+":443", w.addr)
	for i, e := range w.env {
		if f, ok := strings.CutPrefix(e, "SSL_CERT_FILE="); ok {
			roots, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			w.env[i] = "SSL_CERT_FILE=" + s.writeFile("kv/roots.pem", append(roots, vault.CAPEM...))
		}
	}
	w.env = append(w.env, "HTTPS_PROXY="+vault.Proxy())
	dyn, err := dynamic.NewForConfig(c.cp.Config)
	if err != nil {
		t.Fatal(err)
	}

	rootPEM, passDigest := w.signedImages(t, s)
	block, _ := pem.Decode([]byte(rootPEM))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	version := kvtest.NewVersion()
	vault.Add("hallmark-signing", version, cert)

	applySeed(t, c, dyn, vault.URL, version)
	caPEM, args := ratifyServeArgs(t, c, s, w.env)
	srv := s.serve(caPEM, args...)
	for _, r := range []struct{ kind, ns, name string }{
		{ratify.KindCertificateStore, "gatekeeper-system", "certstore-akv"},
		{ratify.KindVerifier, "", "verifier-notation"},
		{ratify.KindStore, "", "store-oras"},
	} {
		if st := ratifyStatus(t, dyn, r.kind, r.ns, r.name); st["issuccess"] != true {
			t.Errorf("%s %s: status %v, want issuccess true\n%s", r.kind, r.name, st, srv.logs)
		}
	}
	if want := "GET /certificates/hallmark-signing/" + version; !slices.Contains(vault.Requests, want) {
		t.Errorf("vault requests %v, want %s", vault.Requests, want)
	}

	pass, fail := w.host+"/nginx@"+passDigest, w.host+"/nginx:fail"
	c.namespace(t, nsDemo)
	c.registerHallmark(t, srv.url, caPEM)
	c.waitForWebhook(t, fail)
	pods := c.client.CoreV1().Pods(nsDemo)
	if _, err := pods.Create(ctx, pod("demo-pass", pass), metav1.CreateOptions{}); err != nil {
		t.Fatalf("signed pod refused: %v\n%s", err, srv.logs)
	}
	if _, err := pods.Create(ctx, pod("demo-fail", fail), metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "no Notary Project signature") {
		t.Fatalf("unsigned pod: want a denial naming the missing signature, got %v\n%s", err, srv.logs)
	}
	checkACRRequests(t, w, "nginx")
}

// applySeed applies Ratify's CRDs and the walkthrough's three files, with
// their variables for the vault's certificate hallmark-signing/version, in
// gatekeeper-system, and returns the variables.
func applySeed(t *testing.T, c *cluster, dyn dynamic.Interface, vaultURL, version string) map[string]string {
	t.Helper()
	applyRatifyCRDs(t, dyn)
	c.namespace(t, "gatekeeper-system")
	vars := map[string]string{
		"IDENTITY_CLIENT_ID": acrClientID,
		"AKV_URI":            vaultURL + "/",
		"CERT_NAME":          "hallmark-signing",
		"VERSION_ID":         version,
		"TENANT_ID":          acrTenantID,
	}
	for _, f := range []string{"store_config.yaml", "akv-certificate-store.yaml", "akv-verifier.yaml"} {
		applyIn(t, dyn, "gatekeeper-system", seedFile(t, f, vars))
	}
	return vars
}

// ratifyServeArgs makes a serving certificate in the sandbox and returns
// its CA and the arguments of `serve --ratify-resources` reading the
// cluster's gatekeeper-system; the sandbox's environment becomes env.
func ratifyServeArgs(t *testing.T, c *cluster, s *sandbox, env []string) ([]byte, []string) {
	t.Helper()
	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.env = env
	return caPEM, []string{"--ratify-resources", "--kubeconfig", c.cp.Kubeconfig, "--namespace", "gatekeeper-system",
		"--tls-cert-file", s.writeFile("tls.crt", certPEM), "--tls-key-file", s.writeFile("tls.key", keyPEM)}
}
