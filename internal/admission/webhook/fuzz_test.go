package webhook

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// FuzzDecodeAdmissionReview: the body comes from whoever can reach the
// webhook. decodeReview must never panic, must fail only with ErrBadReview,
// and what it accepts must carry everything the handlers rely on. Accepted
// reviews then go through the validating handler, which must answer with an
// AdmissionReview in the version asked, echoing the uid.
func FuzzDecodeAdmissionReview(f *testing.F) {
	if seed, err := os.ReadFile(filepath.Join("testdata", "request-pod-v1.json")); err == nil {
		f.Add(seed)
	}
	f.Add(reviewBody(APIVersionV1, opCreate, "apps", "Deployment", "team-a", deployment(signed, unsigned)))
	f.Add(reviewBody(APIVersionV1beta1, opUpdate, "batch", "CronJob", "team-a", `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}}}`))
	f.Add(reviewBody(APIVersionV1, opDelete, "", "Pod", "kube-system", ""))
	f.Add(reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", `{"spec":{"containers":[{"image":5}]}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"operation":"CREATE","object":null}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`))
	f.Add([]byte(`null`))

	a := admission.New(&fakeVerifier{}, fakeResolver{}, admission.Policy{}, admission.Options{})
	h := NewValidateHandler(a, Options{})
	f.Fuzz(func(t *testing.T, body []byte) {
		rv, err := decodeReview(body)
		if err != nil {
			if !errors.Is(err, ErrBadReview) {
				t.Fatalf("decodeReview() error %v is not ErrBadReview", err)
			}
			return
		}
		if rv.Kind != kindReview || (rv.APIVersion != APIVersionV1 && rv.APIVersion != APIVersionV1beta1) ||
			rv.Request == nil || rv.Request.UID == "" || rv.Request.Kind.Kind == "" || rv.Response != nil {
			t.Fatalf("decodeReview() accepted an incomplete review: %+v", rv)
		}
		rec := post(t, h, "/validate", body)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d for an accepted review", rec.Code)
		}
		var out review
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("answer is not JSON: %v", err)
		}
		if out.APIVersion != rv.APIVersion || out.Response == nil || out.Response.UID != rv.Request.UID {
			t.Fatalf("answer %s does not echo version and uid of the request", rec.Body)
		}
		if !out.Response.Allowed && (out.Response.Status == nil || out.Response.Status.Message == "") {
			t.Fatalf("refusal without a message: %s", rec.Body)
		}
	})
}
