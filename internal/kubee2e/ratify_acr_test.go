package kubee2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/ratify"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// The identity of the reference setup: the tenant, the client ID of the
// managed identity federated with hallmark's service account, and the
// projected service account token AKS writes to AZURE_FEDERATED_TOKEN_FILE.
const (
	acrTenantID  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	acrClientID  = "5e3a6f0c-1d2b-4c3d-8e4f-000000000042"
	acrAssertion = "eyJhbGciOiJSUzI1NiJ9.projected-service-account-token.sig"
	// acrIssuer is the iss of the access tokens; the registry trusts it.
	acrIssuer = "hallmark-test-acr"
)

// acrWorld is an Azure Container Registry as the reference setup has one,
// made of the real distribution registry in its token-auth mode behind
// ACR's token service (acrtest, written from Microsoft's documentation)
// on one TLS host, as ACR serves /v2/ and /oauth2/ on one host, and a
// Microsoft Entra ID authority (acrtest) on another.
type acrWorld struct {
	host  string // the registry's host:port
	entra *acrtest.Entra
	acr   *acrtest.ACR
	// env is what AKS workload identity injects into hallmark's pod, plus
	// SSL_CERT_FILE trusting the test servers' certificate.
	env []string
	// pusher is a docker config directory logged in to the registry with
	// an ACR refresh token that may push (az acr login), for signing.
	pusher string
	// client reaches the registry with the pusher's token.
	client *auth.Client
	// addr is the front's loopback address; entraURL is Entra's
	// authority host (https://127.0.0.1:PORT).
	addr, entraURL string
}

func newACRWorld(t *testing.T, s *sandbox) *acrWorld { return newACRWorldNamed(t, s, "") }

// newACRWorldNamed is newACRWorld with the registry called name (as
// myregistry.azurecr.io, port 443) rather than by its loopback address: its
// certificate is for name, and a client reaches it through a CONNECT
// proxy that tunnels name:443 to addr (see kvtest's Tunnel); the test's
// own client dials addr directly.
func newACRWorldNamed(t *testing.T, s *sandbox, name string) *acrWorld {
	t.Helper()
	w := &acrWorld{}
	entraSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { w.entra.ServeHTTP(rw, r) }))
	entraSrv.StartTLS()
	t.Cleanup(entraSrv.Close)
	w.entraURL = entraSrv.URL
	var proxy *httputil.ReverseProxy
	front := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if w.acr.Handles(r) {
			w.acr.ServeHTTP(rw, r)
			return
		}
		proxy.ServeHTTP(rw, r)
	}))
	// httptest's servers share one certificate, valid for 127.0.0.1.
	roots := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: entraSrv.Certificate().Raw})
	if name != "" {
		caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate(name, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		front.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		roots = append(roots, caPEM...)
	}
	front.StartTLS()
	t.Cleanup(front.Close)
	w.addr = front.Listener.Addr().String()
	w.host = w.addr
	if name != "" {
		w.host = name
	}
	w.entra = acrtest.NewEntra(t, strings.TrimPrefix(entraSrv.URL, "https://"), acrTenantID, acrClientID, acrAssertion)
	w.acr = acrtest.NewACR(t, w.host, acrTenantID, w.entra)
	bundle, err := w.acr.SignTokens(acrIssuer)
	if err != nil {
		t.Fatal(err)
	}
	backend := testpeers.StartDistributionTokenAuth(t, testpeers.TokenAuth{
		Realm:          "https://" + w.host + "/oauth2/token",
		Service:        w.host,
		Issuer:         acrIssuer,
		RootCertBundle: s.writeFile("acr/token-ca.pem", bundle),
	})
	// The registry builds the URLs it returns (upload locations) from
	// the forwarded host and scheme, as behind any TLS front.
	target := &url.URL{Scheme: "http", Host: backend}
	proxy = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
		pr.Out.Host = pr.In.Host
	}}
	ca := s.writeFile("acr/servers-ca.pem", roots)
	w.env = []string{
		"SSL_CERT_FILE=" + ca,
		"AZURE_FEDERATED_TOKEN_FILE=" + s.writeFile("acr/azure-identity-token", []byte(acrAssertion)),
		"AZURE_CLIENT_ID=" + acrClientID,
		"AZURE_TENANT_ID=" + acrTenantID,
		"AZURE_AUTHORITY_HOST=" + entraSrv.URL + "/",
	}

	push := w.acr.RefreshToken("pull", "push")
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{w.host: map[string]string{
		"auth":          base64.StdEncoding.EncodeToString([]byte(acrtest.ACRUsername + ":")),
		"identitytoken": push,
	}}})
	s.writeFile("acr/pusher/config.json", cfg)
	w.pusher = s.dir + "/acr/pusher"
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(roots)
	dial := (&net.Dialer{}).DialContext
	w.client = &auth.Client{
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) { return dial(ctx, network, w.addr) }}},
		Credential: auth.StaticCredential(w.host, auth.Credential{RefreshToken: push}),
		Cache:      auth.NewCache(),
	}
	return w
}

// push pushes a small distinct image and returns its digest.
func (w *acrWorld) push(t *testing.T, repo, tag string) string {
	t.Helper()
	return pushSample(t, w.client, w.host, repo, tag)
}

// pushSample pushes a small distinct image to host/repo:tag with client and
// returns its digest.
func pushSample(t *testing.T, client remote.Client, host, repo, tag string) string {
	t.Helper()
	r, err := remote.NewRepository(host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	r.Client = client
	desc, err := devregistry.PushSampleImageTo(context.Background(), r, tag, repo+":"+tag)
	if err != nil {
		t.Fatalf("push %s/%s:%s: %v", host, repo, tag, err)
	}
	return desc.Digest.String()
}

// signedImages makes the test's signing key, pushes nginx:pass signed
// with it (as the walkthrough's user does, logged in to the registry) and
// nginx:fail unsigned, and returns the key's root certificate and the
// digest of nginx:pass.
func (w *acrWorld) signedImages(t *testing.T, s *sandbox) (rootPEM, passDigest string) {
	t.Helper()
	s.hallmark("key", "create", "e2e", "--subject", "CN=e2e,O=Hallmark,ST=WA,C=US", "--key-type", "EC")
	rootPEM = s.hallmark("key", "export-cert", "e2e", "--root-only").Stdout
	passDigest = w.push(t, "nginx", "pass")
	env := []string{"DOCKER_CONFIG=" + w.pusher}
	for _, e := range w.env {
		if strings.HasPrefix(e, "SSL_CERT_FILE=") || strings.HasPrefix(e, "HTTPS_PROXY=") {
			env = append(env, e)
		}
	}
	if r := s.runEnv(env, "sign", w.host+"/nginx@"+passDigest, "--key", "e2e"); r.Code != 0 {
		t.Fatalf("sign: %s", r)
	}
	w.push(t, "nginx", "fail")
	return rootPEM, passDigest
}

// ratifyACRResources are the reference setup's three resources as the
// walkthrough writes them, with an inline certificate store in place of
// Key Vault's, and the Store's endpoints naming the test registry (ACR's
// hosts by default).
func ratifyACRResources(host, rootPEM string) string {
	return ratifyResources(`    authProvider:
      name: azureWorkloadIdentity
      clientID: `+acrClientID+`
      endpoints: ["`+host+`"]
      cosignEnabled: true
`, rootPEM)
}

// ratifyResources are a Store with storeParameters (YAML under
// spec.parameters, indented four spaces), an inline CertificateStore in
// gatekeeper-system holding rootPEM, and the walkthrough's notation
// Verifier trusting it.
func ratifyResources(storeParameters, rootPEM string) string {
	var certStore strings.Builder
	certStore.WriteString("apiVersion: config.ratify.deislabs.io/v1beta1\nkind: CertificateStore\nmetadata:\n  name: certstore-inline\n  namespace: gatekeeper-system\nspec:\n  provider: inline\n  parameters:\n    value: |\n")
	for _, line := range strings.Split(strings.TrimSpace(rootPEM), "\n") {
		certStore.WriteString("      " + line + "\n")
	}
	return `apiVersion: config.ratify.deislabs.io/v1beta1
kind: Store
metadata:
  name: store-oras
spec:
  name: oras
  parameters:
` + storeParameters + `---
` + certStore.String() + `---
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
`
}

// applyRatifyCRDs applies hallmark's copy of Ratify's CRDs (v1's and v2's
// Executor) and waits until they are served.
func applyRatifyCRDs(t *testing.T, dyn dynamic.Interface) {
	t.Helper()
	testpeers.ApplyYAML(t, dyn, string(ratify.CRDs()))
	waitServed(t, dyn, ratify.KindVerifier, ratify.KindExecutor)
}

// waitServed waits until the API server serves the resources of kinds.
func waitServed(t *testing.T, dyn dynamic.Interface, kinds ...string) {
	t.Helper()
	for _, kind := range kinds {
		group, version := ratify.Group(kind)
		var err error
		if !proctest.Eventually(30*time.Second, 200*time.Millisecond, func() bool {
			_, err = dyn.Resource(schema.GroupVersionResource{Group: group, Version: version, Resource: ratify.Plural(kind)}).List(context.Background(), metav1.ListOptions{})
			return err == nil
		}) {
			t.Fatalf("Ratify's %s CRD is not served: %v", kind, err)
		}
	}
}

// checkRatifyStatus checks that hallmark wrote issuccess true on the
// reference resources.
func checkRatifyStatus(t *testing.T, dyn dynamic.Interface, logs *lockedBuffer) {
	t.Helper()
	for _, r := range []struct{ resource, ns, name string }{{"stores", "", "store-oras"}, {"certificatestores", "gatekeeper-system", "certstore-inline"}, {"verifiers", "", "verifier-notation"}} {
		client := dyn.Resource(schema.GroupVersionResource{Group: ratify.GroupV1, Version: ratify.VersionBeta1, Resource: r.resource})
		o, err := client.Namespace(r.ns).Get(context.Background(), r.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, _ := unstructured.NestedBool(o.Object, "status", "issuccess"); !ok {
			t.Errorf("%s/%s: status %v, want issuccess true\n%s", r.resource, r.name, o.Object["status"], logs)
		}
	}
}

// checkACRRequests checks what hallmark sent to ACR's token service,
// beyond the checks acrtest makes of every request, against
// https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md,
// https://learn.microsoft.com/en-us/rest/api/containerregistry/refresh-tokens/get-from-exchange and
// https://learn.microsoft.com/en-us/rest/api/containerregistry/access-tokens/get-from-login:
// the exchange carries grant_type access_token, the Entra token, the
// registry as service and the tenant; the access token request presents
// the refresh token with the user name 00000000-0000-0000-0000-000000000000
// for the registry's scope repository:REPO:pull.
func checkACRRequests(t *testing.T, w *acrWorld, repo string) {
	t.Helper()
	if w.entra.TokenRequests() == 0 {
		t.Errorf("hallmark asked Entra for no token")
	}
	exchanges, tokens := w.acr.Log()
	if len(exchanges) == 0 {
		t.Fatalf("hallmark made no exchange at %s/oauth2/exchange", w.host)
	}
	for i, f := range exchanges {
		for field, want := range map[string]string{"grant_type": "access_token", "service": w.host, "tenant": acrTenantID} {
			if got := f.Get(field); got != want {
				t.Errorf("exchange %d: %s = %q, want %q", i, field, got, want)
			}
		}
		if !w.entra.Valid(f.Get("access_token")) {
			t.Errorf("exchange %d: access_token is not a token Entra issued for %s", i, acrtest.ACRScope)
		}
	}
	var pulls int
	for _, tr := range tokens {
		if tr.Username != acrtest.ACRUsername {
			continue // the pusher's requests (a refresh_token grant)
		}
		pulls++
		if tr.Method != http.MethodGet || tr.Service != w.host || !slices.Contains(tr.Scopes, "repository:"+repo+":pull") {
			t.Errorf("hallmark's access token request %+v: want GET with service %s and scope repository:%s:pull", tr, w.host, repo)
		}
	}
	if pulls == 0 {
		t.Errorf("hallmark asked for no access token with the exchanged refresh token; requests: %+v", tokens)
	}
}

// hallmark serve --ratify-resources reads a private registry as the
// reference setup has it: the Store's azureWorkloadIdentity authProvider
// gives it the pod's workload identity, which it exchanges at ACR for a
// refresh token and then for the access tokens the real distribution
// registry (auth: token) accepts. A signed pod is admitted through the
// webhook, an unsigned one denied.
func TestRatifyResourcesACR(t *testing.T) {
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

	root, passDigest := w.signedImages(t, s)
	t.Run("the registry refuses an anonymous client", func(t *testing.T) {
		r := s.runEnv([]string{w.env[0]}, "verify", w.host+"/nginx@"+passDigest)
		if r.Code == 0 {
			t.Fatalf("verify without credentials passed: %s", r)
		}
		t.Logf("without credentials: %s", r.Stderr)
	})

	applyRatifyCRDs(t, dyn)
	c.namespace(t, "gatekeeper-system")
	testpeers.ApplyYAML(t, dyn, ratifyACRResources(w.host, root))

	caPEM, certPEM, keyPEM, err := testpeers.ServingCertificate("hallmark", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	s.env = w.env
	srv := s.serve(caPEM, "--ratify-resources", "--kubeconfig", c.cp.Kubeconfig, "--namespace", "gatekeeper-system",
		"--tls-cert-file", s.writeFile("tls.crt", certPEM), "--tls-key-file", s.writeFile("tls.key", keyPEM))
	checkRatifyStatus(t, dyn, srv.logs)

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
	checkACRRequests(t, w, "nginx")
}
