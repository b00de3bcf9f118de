package admission_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/admission/gatekeeper"
	"github.com/hallmark-dev/hallmark/internal/admission/webhook"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// The hostile-input suite, continued through the HTTP encodings (package
// admission_test, since the encodings import admission): image names that
// carry Ratify's "[namespace]" key prefix, written by a pod author to pick
// an excluded namespace.

const keyDigest = "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

// unsignedEverything verifies nothing: every image here is unsigned.
type unsignedEverything struct{}

func (unsignedEverything) Verify(_ context.Context, ref string) verify.Result {
	return verify.Result{Reference: ref, Code: verify.CodeNoSignature, Reason: "no Notary Project signature found for " + ref}
}

type anyTag struct{}

func (anyTag) Resolve(context.Context, string) (ocispec.Descriptor, error) {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(keyDigest), Size: 1}, nil
}

// TestHostilePrefixKeys: from a caller without a client certificate no
// prefixed key passes verification, and mutation answers no value that
// differs from its key by more than an added digest; through the webhook a
// pod whose image carries a prefix is denied.
func TestHostilePrefixKeys(t *testing.T) {
	a := admission.New(unsignedEverything{}, anyTag{}, admission.Policy{}, admission.Options{})
	keys := []string{
		"[kube-system]registry.example/x:v2",
		"[kube-system]registry.example/x@" + keyDigest,
		"[team-a][kube-system]registry.example/x:v2", // Ratify's multi-tenant template adds the first
		"[kube-system]",
		"[]registry.example/x:v2",
		"[kube-system ]registry.example/x:v2",
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case gatekeeper.VerifyPath:
			gatekeeper.NewVerifyHandler(a, gatekeeper.Options{}).ServeHTTP(w, r)
		case gatekeeper.MutatePath:
			gatekeeper.NewMutateHandler(a, gatekeeper.Options{}).ServeHTTP(w, r)
		case "/validate":
			webhook.NewValidateHandler(a, webhook.Options{}).ServeHTTP(w, r)
		}
	}))
	defer srv.Close()
	post := func(path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := srv.Client().Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	request := map[string]any{"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": map[string]any{"keys": keys}}

	items := post(gatekeeper.VerifyPath, request)["response"].(map[string]any)["items"].([]any)
	for _, it := range items {
		item := it.(map[string]any)
		if v, ok := item["value"].(map[string]any); ok && v["isSuccess"] == true {
			t.Errorf("verify passed the unsigned key %q", item["key"])
		}
	}
	items = post(gatekeeper.MutatePath, request)["response"].(map[string]any)["items"].([]any)
	for _, it := range items {
		item := it.(map[string]any)
		key, value := item["key"].(string), fmt.Sprint(item["value"])
		if value != key && !strings.HasPrefix(value, key+"@") {
			t.Errorf("mutate answered %q for key %q", value, key)
		}
	}
	for _, image := range keys {
		review := map[string]any{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": map[string]any{
			"uid": "u", "kind": map[string]any{"kind": "Pod", "version": "v1"}, "namespace": "team-a", "operation": "CREATE",
			"object": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": image}}}}}}
		resp := post("/validate", review)["response"].(map[string]any)
		if resp["allowed"] == true {
			t.Errorf("the webhook admitted a pod in team-a naming %q", image)
		}
	}
}
