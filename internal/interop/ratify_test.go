package interop

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// providerResponse is a Gatekeeper ProviderResponse, kept as generic JSON so
// that the two servers' structures can be compared field by field.
type providerResponse struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   struct {
		Idempotent  bool              `json:"idempotent"`
		SystemError string            `json:"systemError"`
		Items       []json.RawMessage `json:"items"`
	} `json:"response"`
}

type providerItem struct {
	Key   string         `json:"key"`
	Value map[string]any `json:"value"`
	Error string         `json:"error"`
}

func postProvider(t *testing.T, client *http.Client, url string, keys []string) (providerResponse, map[string]providerItem) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
		"request": map[string]any{"keys": keys},
	})
	resp, err := client.Post(url+"/ratify/gatekeeper/v1/verify", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, data)
	}
	var pr providerResponse
	if err := json.Unmarshal(data, &pr); err != nil {
		t.Fatalf("%s: not a ProviderResponse: %v\n%s", url, err, data)
	}
	items := map[string]providerItem{}
	for _, raw := range pr.Response.Items {
		var it providerItem
		if err := json.Unmarshal(raw, &it); err != nil {
			t.Fatalf("%s: item %s: %v", url, raw, err)
		}
		items[it.Key] = it
	}
	return pr, items
}

// fieldSet lists the JSON field names of v, recursively, as dotted paths.
func fieldSet(prefix string, v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			out = append(out, prefix+k)
			out = append(out, fieldSet(prefix+k+".", val)...)
		}
	case []any:
		for _, val := range x {
			out = append(out, fieldSet(prefix+"[].", val)...)
		}
	}
	sort.Strings(out)
	return dedupe(out)
}

func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// TestRatifyParity sends the same ProviderRequest to hallmark and to Ratify
// v1.4.6, both trusting the same certificate and reading the same registry
// process, and checks that they give the same verdict per key and the same
// response structure, which is what Ratify's Gatekeeper ConstraintTemplate
// (and Azure Policy's built-in that uses it) reads.
func TestRatifyParity(t *testing.T) {
	skipShort(t)
	e := newEnv(t)
	host := testpeers.StartDistribution(t)
	e.hallmark("key", "create", "trusted", "--subject", "CN=trusted,O=Interop,ST=WA,C=US", "--key-type", "RSA")
	e.hallmark("key", "create", "stranger", "--subject", "CN=stranger,O=Interop,ST=WA,C=US", "--key-type", "RSA")
	rootPEM := e.hallmark("key", "export-cert", "trusted", "--root-only").Stdout
	e.writeFile(filepath.Join("ts", "x509", "ca", "certs", "root.pem"), []byte(rootPEM))
	policyJSON := trustPolicy("strict", []string{"ca:certs"}, []string{"*"})
	policy := e.writeFile("trustpolicy.json", policyJSON)

	signed := pushImage(t, host, "parity", "signed", "parity-signed")
	e.hallmark("sign", signed, "--key", "trusted", "--plain-http")
	jws := pushImage(t, host, "parity", "jws", "parity-jws")
	e.hallmark("sign", jws, "--key", "trusted", "--plain-http", "--signature-format", "jws")
	unsigned := pushImage(t, host, "parity", "unsigned", "parity-unsigned")
	wrong := pushImage(t, host, "parity", "wrong", "parity-wrong")
	e.hallmark("sign", wrong, "--key", "stranger", "--plain-http")
	missing := host + "/parity:no-such-tag"

	keys := []string{signed, jws, host + "/parity:signed", "[default]" + signed, unsigned, wrong, missing, "Not An Image!"}
	want := map[string]bool{signed: true, jws: true, host + "/parity:signed": true, "[default]" + signed: true}
	// Where hallmark departs from Ratify on purpose, in deny mode: a tag
	// without its digest is not verified (the kubelet would resolve it
	// again; Gatekeeper's mutation pins it first), and a "[namespace]"
	// prefix from a caller without a client certificate is part of the
	// reference. Ratify passes both; hallmark answers as given here.
	departs := map[string]string{
		host + "/parity:signed": "names a tag without a digest",
		"[default]" + signed:    "is not valid",
	}

	ratifyURL := testpeers.StartRatify(t, testpeers.RatifyOptions{Registry: host, CertificatePEM: []byte(rootPEM), TrustPolicyJSON: policyJSON, LogLevel: "warn"})
	certFile, keyFile, pool := testpeers.ServingCertFiles(t, e.dir)
	hm := e.serve(t, pool, "--tls-cert-file", certFile, "--tls-key-file", keyFile, "--trust-policy", policy,
		"--trust-store", filepath.Join(e.dir, "ts"), "--plain-http")

	rPR, rItems := postProvider(t, http.DefaultClient, ratifyURL, keys)
	hPR, hItems := postProvider(t, hm.client, hm.url, keys)

	if hPR.Kind != rPR.Kind || hPR.APIVersion != rPR.APIVersion || hPR.Response.Idempotent != rPR.Response.Idempotent || hPR.Response.SystemError != rPR.Response.SystemError {
		t.Errorf("envelope differs: hallmark %s %s idempotent=%v systemError=%q; Ratify %s %s idempotent=%v systemError=%q",
			hPR.APIVersion, hPR.Kind, hPR.Response.Idempotent, hPR.Response.SystemError,
			rPR.APIVersion, rPR.Kind, rPR.Response.Idempotent, rPR.Response.SystemError)
	}
	if len(hItems) != len(keys) || len(rItems) != len(keys) {
		t.Fatalf("items: hallmark %d, Ratify %d, keys %d", len(hItems), len(rItems), len(keys))
	}
	for _, key := range keys {
		h, r := hItems[key], rItems[key]
		t.Run(key, func(t *testing.T) {
			if why, ok := departs[key]; ok {
				rOK, _ := r.Value["isSuccess"].(bool)
				hOK, _ := h.Value["isSuccess"].(bool)
				if !rOK || r.Error != "" || hOK || !strings.Contains(fmt.Sprint(h.Error, h.Value), why) {
					t.Fatalf("want Ratify to pass and hallmark to refuse saying %q:\nhallmark: %q %v\nRatify:   %q %v", why, h.Error, h.Value, r.Error, r.Value)
				}
				return
			}
			if (h.Error == "") != (r.Error == "") {
				t.Fatalf("per-item error: hallmark %q, Ratify %q", h.Error, r.Error)
			}
			if h.Error != "" {
				return
			}
			hOK, _ := h.Value["isSuccess"].(bool)
			rOK, _ := r.Value["isSuccess"].(bool)
			if hOK != rOK || hOK != want[key] {
				t.Fatalf("isSuccess: hallmark %v, Ratify %v, want %v\nhallmark: %v\nRatify:   %v", hOK, rOK, want[key], h.Value, r.Value)
			}
			// The top-level value fields must match exactly; for a pass, so
			// must every field of the verifier report that verified.
			hTop, rTop := topFields(h.Value), topFields(r.Value)
			if fmt.Sprint(hTop) != fmt.Sprint(rTop) {
				t.Errorf("value fields: hallmark %v, Ratify %v", hTop, rTop)
			}
			if want[key] {
				hf, rf := fieldSet("", h.Value["verifierReports"]), fieldSet("", r.Value["verifierReports"])
				if fmt.Sprint(hf) != fmt.Sprint(rf) {
					t.Errorf("verifier report fields:\nhallmark %v\nRatify   %v", hf, rf)
				}
				hr := firstReport(h.Value)
				rr := firstReport(r.Value)
				for _, f := range []string{"verifierName", "verifierType", "artifactType", "message", "subject"} {
					if hr[f] != rr[f] {
						t.Errorf("report %s: hallmark %v, Ratify %v", f, hr[f], rr[f])
					}
				}
				if fmt.Sprint(hr["extensions"]) != fmt.Sprint(rr["extensions"]) {
					t.Errorf("report extensions: hallmark %v, Ratify %v", hr["extensions"], rr["extensions"])
				}
			}
		})
	}
}

func topFields(v map[string]any) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func firstReport(v map[string]any) map[string]any {
	reports, _ := v["verifierReports"].([]any)
	if len(reports) == 0 {
		return nil
	}
	r, _ := reports[len(reports)-1].(map[string]any)
	return r
}
