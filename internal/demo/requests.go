package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hallmark-dev/hallmark/internal/capped"
)

// maxResponseBytes caps an answer read from the demo's own server: an
// AdmissionReview or ProviderResponse about one or two images is a few KiB,
// so anything near this is a bug, not an answer.
const maxResponseBytes = 1 << 20

// podReview is the AdmissionReview the API server sends a validating webhook
// for `kubectl run NAME --image=IMAGE` in namespace default: a Pod CREATE
// whose object is what kubectl run builds (one container named after the
// pod, the run=NAME label).
func podReview(name, image string) []byte {
	pod := map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata": map[string]any{
			"name":      name,
			"namespace": "default",
			"labels":    map[string]string{"run": name},
		},
		"spec": map[string]any{
			"containers":    []map[string]any{{"name": name, "image": image, "resources": map[string]any{}}},
			"dnsPolicy":     "ClusterFirst",
			"restartPolicy": "Always",
		},
		"status": map[string]any{},
	}
	obj, _ := json.Marshal(pod)
	gvk := map[string]string{"group": "", "version": "v1", "kind": "Pod"}
	gvr := map[string]string{"group": "", "version": "v1", "resource": "pods"}
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1",
		"kind":       "AdmissionReview",
		"request": map[string]any{
			"uid":             newUID(),
			"kind":            gvk,
			"resource":        gvr,
			"requestKind":     gvk,
			"requestResource": gvr,
			"name":            name,
			"namespace":       "default",
			"operation":       "CREATE",
			"userInfo":        map[string]any{"username": "kubernetes-admin", "groups": []string{"system:masters", "system:authenticated"}},
			"object":          json.RawMessage(obj),
			"oldObject":       nil,
			"dryRun":          false,
			"options":         map[string]any{"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-run"},
		},
	})
	return body
}

// providerRequest is the external data request Gatekeeper sends the provider
// for a constraint that checks images.
func providerRequest(images ...string) []byte {
	body, _ := json.Marshal(map[string]any{
		"apiVersion": "externaldata.gatekeeper.sh/v1beta1",
		"kind":       "ProviderRequest",
		"request":    map[string]any{"keys": images},
	})
	return body
}

// newUID returns a random UUID (version 4), as the API server gives each
// admission request.
func newUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// reviewResponse is the part of an AdmissionReview answer the demo reads.
type reviewResponse struct {
	Response struct {
		Allowed bool `json:"allowed"`
		Status  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
		Warnings []string `json:"warnings"`
	} `json:"response"`
}

// providerResponse is the part of a Gatekeeper ProviderResponse the demo
// reads.
type providerResponse struct {
	Response struct {
		SystemError string `json:"systemError"`
		Items       []struct {
			Key   string `json:"key"`
			Error string `json:"error"`
			Value struct {
				IsSuccess       bool `json:"isSuccess"`
				VerifierReports []struct {
					Message string `json:"message"`
				} `json:"verifierReports"`
			} `json:"value"`
		} `json:"items"`
	} `json:"response"`
}

// post sends body to url as the API server or Gatekeeper would, and decodes
// the JSON answer into v.
func post(ctx context.Context, client *http.Client, url string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := capped.Read(resp.Body, maxResponseBytes)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(data))
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("POST %s: the answer is not JSON: %w", url, err)
	}
	return nil
}
