package testpeers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
)

// providerResponse is the part of Gatekeeper's ProviderResponse the test
// reads; values stay raw so the test can log them as Ratify sent them.
type providerResponse struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   struct {
		Idempotent bool `json:"idempotent"`
		Items      []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
			Error string          `json:"error"`
		} `json:"items"`
		SystemError string `json:"systemError"`
	} `json:"response"`
}

// verification is the part of Ratify's per-image result the test checks.
type verification struct {
	IsSuccess       bool `json:"isSuccess"`
	VerifierReports []struct {
		IsSuccess    bool   `json:"isSuccess"`
		VerifierName string `json:"verifierName"`
		VerifierType string `json:"verifierType"`
	} `json:"verifierReports"`
}

func providerRequest(keys ...string) []byte {
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "externaldata.gatekeeper.sh/v1beta1",
		"kind":       "ProviderRequest",
		"request":    map[string]any{"keys": keys},
	})
	return b
}

// post sends body to url and returns the status, the headers and the decoded
// response, logging the raw answer.
func post(t *testing.T, url string, body []byte) (int, http.Header, providerResponse) {
	t.Helper()
	status, header, all := postAll(t, url, body)
	return status, header, all[0]
}

// postAll posts body and returns every ProviderResponse in the answer: after
// a timeout Ratify sometimes writes a second response behind the first one.
func postAll(t *testing.T, url string, body []byte) (int, http.Header, []providerResponse) {
	t.Helper()
	// A connection per request: Ratify closes a connection after a request
	// that timed out, and a kept-alive one reused right after is reset.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("POST %s %s\n-> %s %v\n%s", url, body, resp.Status, resp.Header, raw)
	var all []providerResponse
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		var pr providerResponse
		err := dec.Decode(&pr)
		if err == io.EOF && len(all) > 0 {
			return resp.StatusCode, resp.Header, all
		}
		if err != nil {
			t.Fatalf("response is not a ProviderResponse: %v\n%s", err, raw)
		}
		all = append(all, pr)
	}
}

// itemFor returns the item for key, failing the test if there is not exactly one.
func itemFor(t *testing.T, pr providerResponse, key string) (value json.RawMessage, errText string) {
	t.Helper()
	found := 0
	for _, it := range pr.Response.Items {
		if it.Key == key {
			value, errText = it.Value, it.Error
			found++
		}
	}
	if found != 1 {
		t.Fatalf("%d items for key %q in %+v", found, key, pr.Response.Items)
	}
	return value, errText
}

// notationSign signs ref with a test key and certificate that notation
// generates in a NOTATION_CONFIG of its own, and returns the certificate file.
func notationSign(t *testing.T, refs ...string) string {
	t.Helper()
	dir := t.TempDir()
	env := append(os.Environ(),
		"HOME="+filepath.Join(dir, "home"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "home", ".config"),
		"NOTATION_CONFIG="+filepath.Join(dir, "notation"),
		"DOCKER_CONFIG="+filepath.Join(dir, "docker"),
	)
	run := func(args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, Path(t, "notation"), args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("notation %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("cert", "generate-test", "--default", "ratify-peer")
	for _, ref := range refs {
		run("sign", "--insecure-registry", ref)
	}
	return filepath.Join(dir, "notation", "localkeys", "ratify-peer.crt")
}

// TestRatifyVerifies proves the Ratify peer is configured as it must be:
// it passes an image signed by a trusted notation key, fails an unsigned
// one, resolves tags on the mutate endpoint, and answers bad input as Ratify
// v1.4.6 does.
func TestRatifyVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Ratify; runs without -short")
	}
	ctx := context.Background()
	host := StartDistribution(t)
	push := func(tag string) string {
		desc, err := devregistry.PushSampleImage(ctx, host, "ratify", tag, tag)
		if err != nil {
			t.Fatal(err)
		}
		return host + "/ratify@" + desc.Digest.String()
	}
	signed, unsigned, untrusted := push("signed"), push("unsigned"), push("untrusted")
	cert := notationSign(t, signed)
	notationSign(t, untrusted) // by a key Ratify does not trust

	for _, cache := range []bool{false, true} {
		name := "cache-off"
		if cache {
			name = "cache-on"
		}
		t.Run(name, func(t *testing.T) {
			base := StartRatify(t, RatifyOptions{Registry: host, CertificateFiles: []string{cert}, Cache: cache})
			verifyURL, mutateURL := base+RatifyVerifyPath, base+RatifyMutatePath

			// Twice: with the cache on, the second answer comes from it.
			for round := range 2 {
				status, _, pr := post(t, verifyURL, providerRequest(signed, unsigned, untrusted, "[team-a]"+signed))
				if status != http.StatusOK || pr.Kind != "ProviderResponse" || pr.APIVersion != "externaldata.gatekeeper.sh/v1alpha1" || pr.Response.Idempotent || pr.Response.SystemError != "" {
					t.Fatalf("round %d: verify answered %d %+v", round, status, pr)
				}
				for key, want := range map[string]bool{signed: true, unsigned: false, untrusted: false, "[team-a]" + signed: true} {
					value, errText := itemFor(t, pr, key)
					if errText != "" {
						t.Fatalf("round %d: %s: item error %q", round, key, errText)
					}
					var v verification
					if err := json.Unmarshal(value, &v); err != nil {
						t.Fatalf("%s: %v", key, err)
					}
					if v.IsSuccess != want {
						t.Errorf("round %d: %s: isSuccess %v, want %v: %s", round, key, v.IsSuccess, want, value)
					}
					// An unsigned image has one report without a verifier.
					notary := key != unsigned
					if len(v.VerifierReports) != 1 || v.VerifierReports[0].IsSuccess != want ||
						notary != (v.VerifierReports[0].VerifierName == "verifier-notation" && v.VerifierReports[0].VerifierType == "notation") {
						t.Errorf("round %d: %s: verifier reports %s", round, key, value)
					}
				}
			}

			// Mutate resolves a tag to a digest and leaves a digest alone.
			tagged := host + "/ratify:signed"
			status, _, pr := post(t, mutateURL, providerRequest(tagged, signed))
			if status != http.StatusOK || !pr.Response.Idempotent || pr.Response.SystemError != "" {
				t.Fatalf("mutate answered %d %+v", status, pr)
			}
			for key, want := range map[string]string{tagged: signed, signed: signed} {
				value, errText := itemFor(t, pr, key)
				var got string
				if err := json.Unmarshal(value, &got); err != nil || errText != "" || got != want {
					t.Errorf("mutate %s: value %s error %q, want %q", key, value, errText, want)
				}
			}

			// A key that is not an image reference is an item error.
			for _, url := range []string{verifyURL, mutateURL} {
				status, _, pr := post(t, url, providerRequest("Not An Image!"))
				if status != http.StatusOK || pr.Response.SystemError != "" {
					t.Fatalf("bad key: %d %+v", status, pr)
				}
				if _, errText := itemFor(t, pr, "Not An Image!"); errText == "" {
					t.Errorf("%s: no item error for a bad key", url)
				}
			}

			// A body that is not a ProviderRequest fails the whole request.
			for _, url := range []string{verifyURL, mutateURL} {
				status, _, pr := post(t, url, []byte(`{"request":`))
				if status != http.StatusInternalServerError || pr.Response.SystemError == "" || pr.Response.Items != nil {
					t.Errorf("%s: malformed body answered %d %+v", url, status, pr)
				}
			}
		})
	}
}

// TestRatifyTimesOut proves VerifyTimeout and MutateTimeout reach Ratify: a
// registry that accepts connections and never answers makes the request
// fail, with a timeout systemError or deadline-exceeded items, once they pass.
func TestRatifyTimesOut(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Ratify; runs without -short")
	}
	host := HangingRegistry(t)
	base := StartRatify(t, RatifyOptions{Registry: host, VerifyTimeout: time.Second, MutateTimeout: 500 * time.Millisecond})
	// Ratify races its own timeout: the answer carries a "timed out"
	// systemError, or items that failed with "context deadline exceeded", or
	// both, one response behind the other, with status 500 or (when the
	// items were written first) 200. No item ever succeeds.
	for path, idempotent := range map[string]bool{RatifyVerifyPath: false, RatifyMutatePath: true} {
		status, _, all := postAll(t, base+path, providerRequest(host+"/hangs:v1"))
		timedOut := false
		for _, pr := range all {
			if pr.Response.Idempotent != idempotent {
				t.Errorf("%s: idempotent %v, want %v", path, pr.Response.Idempotent, idempotent)
			}
			if strings.Contains(pr.Response.SystemError, "timed out") {
				timedOut = true
			}
			for _, it := range pr.Response.Items {
				var v struct {
					IsSuccess bool `json:"isSuccess"`
				}
				_ = json.Unmarshal(it.Value, &v) // mutate's value is a string
				if it.Error == "" && (path == RatifyMutatePath || v.IsSuccess) {
					t.Errorf("%s: item %q passed: %+v", path, it.Key, it)
				}
				if strings.Contains(it.Error, "deadline exceeded") {
					timedOut = true
				}
			}
		}
		if (status != http.StatusInternalServerError && status != http.StatusOK) || !timedOut {
			t.Errorf("%s: %d %+v", path, status, all)
		}
	}
}
