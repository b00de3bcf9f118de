package gatekeeper

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// FuzzDecodeProviderRequest: the body comes from whoever can reach the
// provider. decodeRequest must never panic and must fail only with
// ErrBadRequest; what it accepts goes through the verify handler, which
// must answer 200 with exactly one item per key, each echoing its key and
// holding a value or an error.
func FuzzDecodeProviderRequest(f *testing.F) {
	f.Add(providerRequestBody(signed, "[team-a]"+unsigned, "nginx", ""))
	f.Add(providerRequestBody("[kube-system]"+signed, "[", "]", "[]", "[x]y/z:1"))
	f.Add([]byte(`{"apiVersion":"externaldata.gatekeeper.sh/v1alpha1","kind":"ProviderRequest","request":{}}`))
	f.Add([]byte(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["a/b:c","a/b:c"]}}`))
	f.Add([]byte(`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":null}`))
	f.Add([]byte(`{"kind":"ProviderRequest","request":{"keys":[1]}}`))

	h := NewVerifyHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{}), testOptions())
	f.Fuzz(func(t *testing.T, body []byte) {
		keys, err := decodeRequest(body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("decodeRequest() error %v is not ErrBadRequest", err)
			}
			return
		}
		if len(keys) > MaxKeys {
			t.Fatalf("decodeRequest() accepted %d keys", len(keys))
		}
		rec := post(t, h, body)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d for an accepted request", rec.Code)
		}
		var resp providerResponse
		var items struct {
			Response struct {
				Items []map[string]json.RawMessage `json:"items"`
			} `json:"response"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &items); err != nil {
			t.Fatal(err)
		}
		if len(resp.Response.Items) != len(keys) || resp.Response.SystemError != "" {
			t.Fatalf("%d items (systemError %q) for %d keys", len(resp.Response.Items), resp.Response.SystemError, len(keys))
		}
		for i, it := range resp.Response.Items {
			if it.Key != keys[i] {
				t.Fatalf("item %d key %q, want %q", i, it.Key, keys[i])
			}
			_, hasValue := items.Response.Items[i]["value"]
			if hasValue == (it.Error != "") {
				t.Fatalf("item %d must hold a value or an error, not both or neither: %+v", i, it)
			}
		}
	})
}
