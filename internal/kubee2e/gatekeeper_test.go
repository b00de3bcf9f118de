package kubee2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/hallmark-dev/hallmark/internal/testpeers"
)

// providerResponse is Gatekeeper's external data ProviderResponse.
type providerResponse struct {
	Response struct {
		Items []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
			Error string `json:"error"`
		} `json:"items"`
		SystemError string `json:"systemError"`
	} `json:"response"`
}

// externalData asks hallmark's provider endpoint about images and returns
// what Gatekeeper's external_data builtin gives the Rego for that answer:
// items without an error as responses [key, value], items with one as
// errors [key, error], and the system error.
func externalData(t *testing.T, url string, caPEM []byte, images []string) map[string]any {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	body, _ := json.Marshal(map[string]any{"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
		"request": map[string]any{"keys": images}})
	resp, err := client.Post(url+"/ratify/gatekeeper/v1/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var pr providerResponse
	if err := json.Unmarshal(data, &pr); err != nil {
		t.Fatalf("provider response: %v\n%s", err, data)
	}
	responses, errs := []any{}, []any{}
	for _, it := range pr.Response.Items {
		if it.Error != "" {
			errs = append(errs, []any{it.Key, it.Error})
		} else {
			responses = append(responses, []any{it.Key, it.Value})
		}
	}
	return map[string]any{"responses": responses, "errors": errs, "status_code": 200, "system_error": pr.Response.SystemError}
}

// testGatekeeperTemplate evaluates the chart's ConstraintTemplate Rego with
// OPA on a pod naming pass (in its containers) and fail (in an image
// volume), with
// external_data answering what hallmark's provider endpoint answers for
// them. Gatekeeper itself does not run here: its external_data builtin is
// replaced by that answer, in the shape Gatekeeper documents.
func testGatekeeperTemplate(t *testing.T, s *sandbox, url string, caPEM []byte, pass, fail string) {
	objs := renderChart(t, "--set", "gatekeeper.enabled=true", "--set-json",
		`config.trustStores=[{"name":"default","type":"ca","certificates":[{"pem":"PEM"}]}]`)
	var rego string
	for _, o := range objs {
		if o.GetKind() == "ConstraintTemplate" {
			targets, _, _ := unstructured.NestedSlice(o.Object, "spec", "targets")
			rego, _, _ = unstructured.NestedString(targets[0].(map[string]any), "rego")
		}
	}
	if rego == "" {
		t.Fatal("the chart renders no ConstraintTemplate Rego")
	}
	answer, _ := json.Marshal(externalData(t, url, caPEM, []string{pass, fail}))
	template := s.writeFile("template.rego", []byte(rego))
	// The stand-in answers only for the keys the template sends, as
	// Gatekeeper does, so an image the Rego does not collect goes unasked.
	mock := s.writeFile("mock.rego", []byte("package mock\n\nanswer = "+string(answer)+"\n\n"+
		"external_data(req) = r { r := {\"responses\": [x | x := answer.responses[_]; x[0] == req.keys[_]], "+
		"\"errors\": [x | x := answer.errors[_]; x[0] == req.keys[_]], \"status_code\": 200, \"system_error\": answer.system_error} }\n"))
	caps := s.writeFile("capabilities.json", opaCapabilities(t))
	input, _ := json.Marshal(map[string]any{"review": map[string]any{"object": map[string]any{"spec": map[string]any{
		"initContainers": []any{map[string]any{"image": pass}},
		"containers":     []any{map[string]any{"image": pass}},
		// The kubelet pulls an image volume like a container image.
		"volumes": []any{map[string]any{"name": "data", "emptyDir": map[string]any{}}, map[string]any{"name": "tools", "image": map[string]any{"reference": fail}}},
	}}}})
	cmd := exec.Command(testpeers.OPAPath(t), "eval", "--v0-compatible", "--capabilities", caps, "-d", template, "-d", mock,
		"-I", "-f", "json", "data.hallmarkverifiedimages.violation with external_data as data.mock.external_data")
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("opa eval: %v\n%s", err, out)
	}
	var res struct {
		Result []struct {
			Expressions []struct {
				Value []struct {
					Msg string `json:"msg"`
				} `json:"value"`
			} `json:"expressions"`
		} `json:"result"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Result) != 1 {
		t.Fatalf("opa eval output: %v\n%s", err, out)
	}
	violations := res.Result[0].Expressions[0].Value
	if len(violations) != 1 || !strings.Contains(violations[0].Msg, fail) || !strings.Contains(violations[0].Msg, "no Notary Project signature") {
		t.Fatalf("want one violation naming %s and its reason, got %+v", fail, violations)
	}
}

// opaCapabilities is OPA's current capabilities plus Gatekeeper's
// external_data builtin, so the template compiles as Gatekeeper compiles it.
func opaCapabilities(t *testing.T) []byte {
	t.Helper()
	out, err := exec.Command(testpeers.OPAPath(t), "capabilities", "--current").Output()
	if err != nil {
		t.Fatalf("opa capabilities: %v", err)
	}
	var caps map[string]any
	if err := json.Unmarshal(out, &caps); err != nil {
		t.Fatal(err)
	}
	caps["builtins"] = append(caps["builtins"].([]any), map[string]any{"name": "external_data",
		"decl": map[string]any{"type": "function", "args": []any{map[string]any{"type": "any"}}, "result": map[string]any{"type": "any"}}})
	b, _ := json.Marshal(caps)
	return b
}
