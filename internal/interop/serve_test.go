package interop

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/admission/gatekeeper"
	"github.com/hallmark-dev/hallmark/internal/proctest"
	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// server is a running `hallmark serve` process.
type server struct {
	url    string
	client *http.Client
	logs   *lockedBuffer
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer = proctest.LockedBuffer

func (e *env) serve(t *testing.T, pool *x509.CertPool, args ...string) *server {
	t.Helper()
	port := testpeers.FreePort(t)
	args = append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--reload-interval", "100ms"}, args...)
	cmd := exec.Command(hallmarkBin, args...)
	cmd.Env = e.environ()
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	s := &server{url: fmt.Sprintf("https://127.0.0.1:%d", port), logs: logs,
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
	var err error
	if !proctest.Eventually(10*time.Second, 50*time.Millisecond, func() bool {
		var resp *http.Response
		if resp, err = s.client.Get(s.url + "/readyz"); err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}) {
		t.Fatalf("hallmark serve never became ready: %v\n%s", err, logs)
	}
	return s
}

// review is the part of an AdmissionReview response the tests read.
type review struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   struct {
		UID     string `json:"uid"`
		Allowed bool   `json:"allowed"`
		Status  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
		Warnings         []string          `json:"warnings"`
		AuditAnnotations map[string]string `json:"auditAnnotations"`
		Patch            []byte            `json:"patch"`
		PatchType        string            `json:"patchType"`
	} `json:"response"`
}

func podReview(uid, ns string, images ...string) []byte {
	var containers []map[string]string
	for i, img := range images {
		containers = append(containers, map[string]string{"name": fmt.Sprintf("c%d", i), "image": img})
	}
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "demo", "namespace": ns},
		"spec":     map[string]any{"containers": containers}}
	obj, _ := json.Marshal(pod)
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": uid, "kind": map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"resource":  map[string]string{"group": "", "version": "v1", "resource": "pods"},
			"namespace": ns, "name": "demo", "operation": "CREATE", "object": json.RawMessage(obj),
		},
	})
	return body
}

func (s *server) review(t *testing.T, path string, body []byte) review {
	t.Helper()
	resp, err := s.client.Post(s.url+path+"?timeout=10s", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
	var r review
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("POST %s: %v: %s", path, err, data)
	}
	return r
}

// TestServeAdmission drives `hallmark serve` over HTTPS against the
// distribution registry process holding signed, unsigned, wrongly signed and
// expired images, in deny and audit mode, then registry faults and a config
// reload.
func TestServeAdmission(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "trusted", "--subject", "CN=trusted,O=Interop,ST=WA,C=US", "--key-type", "EC")
	e.hallmark("key", "create", "stranger", "--subject", "CN=stranger,O=Interop,ST=WA,C=US", "--key-type", "EC")
	root := e.hallmark("key", "export-cert", "trusted", "--root-only").Stdout
	e.writeFile(filepath.Join("ts", "x509", "ca", "trusted", "root.pem"), []byte(root))
	store := filepath.Join(e.dir, "ts")
	policy := e.writeFile("trustpolicy.json", trustPolicy("strict", []string{"ca:trusted"}, []string{"*"}))

	signed := pushImage(t, host, "app", "signed", "signed")
	e.hallmark("sign", signed, "--key", "trusted", "--plain-http")
	unsigned := pushImage(t, host, "app", "unsigned", "unsigned")
	wrong := pushImage(t, host, "app", "wrong", "wrong")
	e.hallmark("sign", wrong, "--key", "stranger", "--plain-http")
	expired := pushImage(t, host, "app", "expired", "expired")
	e.hallmark("sign", expired, "--key", "trusted", "--plain-http", "--expiry", "1s")
	expiredAt := time.Now().Add(time.Second)
	signedTag := host + "/app:signed"

	certFile, keyFile, pool := testpeers.ServingCertFiles(t, e.dir)
	common := []string{"--tls-cert-file", certFile, "--tls-key-file", keyFile, "--trust-policy", policy, "--trust-store", store, "--plain-http"}
	deny := e.serve(t, pool, append(common, "--mode", "deny")...)
	audit := e.serve(t, pool, append(common, "--mode", "audit")...)
	if d := time.Until(expiredAt.Add(time.Second)); d > 0 {
		time.Sleep(d)
	}
	// The pod author learns which check failed, not the trust policy's
	// trust stores (hallmark verify and the server's log name them).
	bad := map[string]string{unsigned: "no Notary Project signature", wrong: "not from a signer this cluster trusts", expired: "expired"}

	t.Run("deny mode denies exactly the bad images, with reasons", func(t *testing.T) {
		r := deny.review(t, "/validate", podReview("uid-1", "default", signed, unsigned, wrong, expired))
		if r.Response.UID != "uid-1" || r.Response.Allowed || r.Response.Status == nil || r.Response.Status.Code != 403 {
			t.Fatalf("want a 403 denial echoing uid-1, got %+v", r.Response)
		}
		msg := r.Response.Status.Message
		for img, why := range bad {
			if !strings.Contains(msg, img) || !strings.Contains(msg, why) {
				t.Errorf("denial does not name %s with %q:\n%s", img, why, msg)
			}
		}
		if strings.Contains(msg, signed+":") || strings.Contains(msg, signed+" ") {
			t.Errorf("denial names the signed image as failing:\n%s", msg)
		}
		if strings.Contains(msg, "ca:trusted") || strings.Contains(msg, "trustedIdentities") {
			t.Errorf("denial names the trust policy's trust stores or identities:\n%s", msg)
		}
		pinnedTag := signedTag + "@" + signed[strings.Index(signed, "@")+1:]
		ok := deny.review(t, "/validate", podReview("uid-2", "default", signed, pinnedTag))
		if !ok.Response.Allowed {
			t.Fatalf("signed image denied: %+v", ok.Response)
		}
		// The tag alone verifies, but the kubelet would resolve it again:
		// deny mode admits it only pinned (as /mutate writes it).
		tagOnly := deny.review(t, "/validate", podReview("uid-2b", "default", signedTag))
		if tagOnly.Response.Allowed || !strings.Contains(tagOnly.Response.Status.Message, "names a tag without a digest") {
			t.Fatalf("a tag without its digest: want a denial saying so, got %+v", tagOnly.Response)
		}
	})
	t.Run("audit mode allows them with warnings and audit annotations", func(t *testing.T) {
		r := audit.review(t, "/validate", podReview("uid-3", "default", signed, unsigned, wrong, expired))
		if !r.Response.Allowed || len(r.Response.Warnings) != 3 || len(r.Response.AuditAnnotations) == 0 {
			t.Fatalf("audit: want allowed with 3 warnings and audit annotations, got %+v", r.Response)
		}
	})
	t.Run("kube-system is exempt", func(t *testing.T) {
		if r := deny.review(t, "/validate", podReview("uid-4", "kube-system", unsigned)); !r.Response.Allowed {
			t.Fatalf("kube-system pod denied: %+v", r.Response)
		}
	})
	t.Run("mutate pins tags to digests", func(t *testing.T) {
		r := deny.review(t, "/mutate", podReview("uid-5", "default", signedTag))
		digest := signed[strings.Index(signed, "@")+1:]
		if r.Response.PatchType != "JSONPatch" || !strings.Contains(string(r.Response.Patch), signedTag+"@"+digest) {
			t.Fatalf("mutate patch %q does not pin %s to %s", r.Response.Patch, signedTag, digest)
		}
		if again := deny.review(t, "/mutate", podReview("uid-6", "default", signedTag+"@"+digest)); len(again.Response.Patch) > 0 && string(again.Response.Patch) != "[]" {
			t.Fatalf("mutating a pinned image again gave a patch: %s", again.Response.Patch)
		}
	})
	t.Run("registry faults fail closed with a reason, in time", func(t *testing.T) {
		down := fmt.Sprintf("127.0.0.1:%d/app:v1", testpeers.FreePort(t))
		hanging := testpeers.HangingRegistry(t)
		failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusInternalServerError)
		}))
		defer failing.Close()
		erroring := strings.TrimPrefix(failing.URL, "http://") + "/app:v1"
		why := map[string]string{down: "within", hanging + "/app:v1": "within", erroring: "rate limiting"}
		for _, img := range []string{down, hanging + "/app:v1", erroring} {
			r := deny.review(t, "/validate", podReview("uid-f", "default", img))
			if r.Response.Allowed || r.Response.Status == nil || !strings.Contains(r.Response.Status.Message, img) || !strings.Contains(r.Response.Status.Message, why[img]) {
				t.Errorf("%s: want a denial naming the image and saying %q, got %+v", img, why[img], r.Response)
			}
			a := audit.review(t, "/validate", podReview("uid-f", "default", img))
			if !a.Response.Allowed || len(a.Response.Warnings) != 1 {
				t.Errorf("%s in audit mode: want allowed with one warning, got %+v", img, a.Response)
			}
		}
	})
	t.Run("oversized bodies get a 413 the client reads", func(t *testing.T) {
		for _, path := range []string{"/validate", "/mutate", gatekeeper.VerifyPath} {
			status, body, err := proctest.PostWhileSending(strings.TrimPrefix(deny.url, "https://"), &tls.Config{RootCAs: pool}, path, 40<<20)
			if err != nil {
				t.Fatalf("POST %s of 40 MiB: %v; want an answer", path, err)
			}
			if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than") {
				t.Errorf("POST %s of 40 MiB = %d %q, want 413 saying why", path, status, body)
			}
		}
	})
	t.Run("metrics count decisions", func(t *testing.T) {
		resp, err := deny.client.Get(deny.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, m := range []string{"hallmark_admission_decisions_total", "hallmark_image_verification_duration_seconds", "hallmark_registry_requests_total", "hallmark_verification_cache_lookups_total"} {
			if !bytes.Contains(data, []byte(m)) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})
}

// TestServeGatekeeper sends Gatekeeper ProviderRequests to `hallmark serve`.
func TestServeGatekeeper(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "trusted", "--subject", "CN=trusted,O=Interop,ST=WA,C=US", "--key-type", "EC")
	e.writeFile(filepath.Join("ts", "x509", "ca", "trusted", "root.pem"), []byte(e.hallmark("key", "export-cert", "trusted", "--root-only").Stdout))
	policy := e.writeFile("trustpolicy.json", trustPolicy("strict", []string{"ca:trusted"}, []string{"*"}))
	signed := pushImage(t, host, "app", "signed", "gk-signed")
	e.hallmark("sign", signed, "--key", "trusted", "--plain-http")
	unsigned := pushImage(t, host, "app", "unsigned", "gk-unsigned")
	certFile, keyFile, pool := testpeers.ServingCertFiles(t, e.dir)
	s := e.serve(t, pool, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--trust-policy", policy, "--trust-store", filepath.Join(e.dir, "ts"), "--plain-http")

	body := fmt.Sprintf(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[%q,%q,"[default]%s","not a reference"]}}`, signed, unsigned, signed)
	resp, err := s.client.Post(s.url+"/ratify/gatekeeper/v1/verify", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var pr struct {
		Kind     string `json:"kind"`
		Response struct {
			Idempotent  bool   `json:"idempotent"`
			SystemError string `json:"systemError"`
			Items       []struct {
				Key   string `json:"key"`
				Error string `json:"error"`
				Value struct {
					IsSuccess       bool `json:"isSuccess"`
					VerifierReports []struct {
						VerifierName string `json:"verifierName"`
						IsSuccess    bool   `json:"isSuccess"`
						Message      string `json:"message"`
					} `json:"verifierReports"`
				} `json:"value"`
			} `json:"items"`
		} `json:"response"`
	}
	if err := json.Unmarshal(data, &pr); err != nil || pr.Kind != "ProviderResponse" || len(pr.Response.Items) != 4 {
		t.Fatalf("not a 4-item ProviderResponse (%v): %s", err, data)
	}
	if pr.Response.Idempotent || pr.Response.SystemError != "" {
		t.Fatalf("verify response: idempotent=%v systemError=%q", pr.Response.Idempotent, pr.Response.SystemError)
	}
	items := pr.Response.Items
	if !items[0].Value.IsSuccess {
		t.Errorf("signed image not isSuccess: %s", data)
	}
	// This client presents no certificate: its "[namespace]" prefix is
	// part of the reference, which does not parse.
	if items[2].Error == "" || items[2].Value.IsSuccess {
		t.Errorf("[namespace]-prefixed key from an unauthenticated caller: want an error, got %s", data)
	}
	if items[1].Value.IsSuccess || len(items[1].Value.VerifierReports) == 0 && items[1].Error == "" {
		t.Errorf("unsigned image: want isSuccess false with a report or an error: %s", data)
	}
	if items[3].Error == "" {
		t.Errorf("a key that is not an image reference has no per-item error: %s", data)
	}

	// The request is counted as answered, a malformed one as an error.
	bad, err := s.client.Post(s.url+"/ratify/gatekeeper/v1/verify", "application/json", strings.NewReader(`{"request":`))
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	resp, err = s.client.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{
		`hallmark_admission_requests_total{endpoint="gatekeeper-verify",outcome="answered"} 1`,
		`hallmark_admission_requests_total{endpoint="gatekeeper-verify",outcome="error"} 1`,
	} {
		if !bytes.Contains(metrics, []byte(m)) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}

// TestServeCachedAnswersAsFresh: the answer built from a cached verdict is
// the answer built from the fresh one, byte for byte but for Ratify's
// per-answer timestamp and trace ID, through the Gatekeeper provider and the validating
// webhook, for a verified image and for the two failures the cache keeps
// (no signature, an untrusted signer).
func TestServeCachedAnswersAsFresh(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "trusted", "--subject", "CN=trusted,O=Interop,ST=WA,C=US", "--key-type", "EC")
	e.hallmark("key", "create", "stranger", "--subject", "CN=stranger,O=Interop,ST=WA,C=US", "--key-type", "EC")
	e.writeFile(filepath.Join("ts", "x509", "ca", "trusted", "root.pem"), []byte(e.hallmark("key", "export-cert", "trusted", "--root-only").Stdout))
	policy := e.writeFile("trustpolicy.json", trustPolicy("strict", []string{"ca:trusted"}, []string{"*"}))
	images := func(prefix string) []string {
		signed := pushImage(t, host, "app", prefix+"-signed", prefix+"-signed")
		e.hallmark("sign", signed, "--key", "trusted", "--plain-http")
		unsigned := pushImage(t, host, "app", prefix+"-unsigned", prefix+"-unsigned")
		wrong := pushImage(t, host, "app", prefix+"-wrong", prefix+"-wrong")
		e.hallmark("sign", wrong, "--key", "stranger", "--plain-http")
		return []string{signed, unsigned, wrong}
	}
	gk, wh := images("gk"), images("wh")
	certFile, keyFile, pool := testpeers.ServingCertFiles(t, e.dir)
	s := e.serve(t, pool, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--trust-policy", policy, "--trust-store", filepath.Join(e.dir, "ts"), "--plain-http")

	post := func(path string, body []byte) any {
		t.Helper()
		resp, err := s.client.Post(s.url+path, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("POST %s: %v: %s", path, err, data)
		}
		// Ratify stamps each answer with its time and a trace ID.
		return dropKey(dropKey(v, "timestamp"), "traceID")
	}
	hits := func() string {
		resp, err := s.client.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, `hallmark_verification_cache_lookups_total{result="hit"}`) {
				return strings.Fields(line)[1]
			}
		}
		return "0"
	}

	for _, c := range []struct {
		name, path string
		body       []byte
	}{
		{"gatekeeper provider", gatekeeper.VerifyPath, []byte(fmt.Sprintf(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[%q,%q,%q]}}`, gk[0], gk[1], gk[2]))},
		{"validating webhook", "/validate", podReview("uid-1", "default", wh...)},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := hits()
			fresh := post(c.path, c.body)
			if hits() != before {
				t.Fatalf("the first answer came from the cache (hits %s, then %s)", before, hits())
			}
			cached := post(c.path, c.body)
			if h := hits(); h == before {
				t.Fatalf("the second answer did not come from the cache (hits %s)", h)
			}
			f, _ := json.MarshalIndent(fresh, "", " ")
			g, _ := json.MarshalIndent(cached, "", " ")
			if !bytes.Equal(f, g) {
				t.Fatalf("the answer from cached verdicts differs from the fresh one:\nfresh:\n%s\ncached:\n%s", f, g)
			}
			if !bytes.Contains(f, []byte("CN=trusted")) && c.path == gatekeeper.VerifyPath {
				t.Fatalf("the provider's answer names no signer; the comparison proves little:\n%s", f)
			}
		})
	}
}

// dropKey removes key from every object in v, a decoded JSON value.
func dropKey(v any, key string) any {
	switch v := v.(type) {
	case map[string]any:
		delete(v, key)
		for k, x := range v {
			v[k] = dropKey(x, key)
		}
	case []any:
		for i, x := range v {
			v[i] = dropKey(x, key)
		}
	}
	return v
}
