package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/goldentest"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	digestApp = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	signed    = "ghcr.io/org/app:v1"
	unsigned  = "ghcr.io/org/unsigned:v1"
	untrusted = "ghcr.io/org/untrusted:v1"
	gone      = "ghcr.io/org/gone:v1"
)

// fakeVerifier verifies signed and fails everything else; it is a seam for
// this package's encoding, not a stand-in for the engine's correctness.
type fakeVerifier struct {
	hang  time.Duration
	mu    sync.Mutex
	calls int
}

func (f *fakeVerifier) Verify(ctx context.Context, ref string) verify.Result {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if f.hang > 0 {
		time.Sleep(f.hang)
	}
	switch ref {
	case signed, signed + "@" + digestApp, "ghcr.io/org/app@" + digestApp:
		return verify.Result{Reference: ref, Digest: digestApp, Tag: "v1", Verified: true, Code: verify.CodeVerified, Reason: "verified"}
	case untrusted:
		return verify.Result{Reference: ref, Code: verify.CodeUntrustedSigner,
			Reason: "signature made by CN=Mallory is not trusted by policy prod; add its CA to trust store ca:prod or fix trustedIdentities"}
	}
	return verify.Result{Reference: ref, Code: verify.CodeNoSignature,
		Reason: "no Notary Project signature found for " + ref + "; sign it with hallmark sign"}
}

type fakeResolver struct{}

func (fakeResolver) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	if ref == signed || ref == unsigned {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(digestApp), Size: 1}, nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("tag of %s not found", ref)
}

// reviewBody builds an AdmissionReview request.
func reviewBody(apiVersion, op, group, kind, ns string, object string) []byte {
	obj := ""
	if object != "" {
		obj = `,"object":` + object
	}
	return []byte(fmt.Sprintf(`{"apiVersion":%q,"kind":"AdmissionReview","request":{
		"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",
		"kind":{"group":%q,"version":"v1","kind":%q},
		"resource":{"group":%q,"version":"v1","resource":"things"},
		"requestKind":{"group":%q,"version":"v1","kind":%q},
		"name":"web","namespace":%q,"operation":%q,
		"userInfo":{"username":"alice","groups":["devs"]},
		"dryRun":false%s}}`, apiVersion, group, kind, group, group, kind, ns, op, obj))
}

func pod(images ...string) string {
	var cs []string
	for i, img := range images {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":%q}`, i, img))
	}
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[` + strings.Join(cs, ",") + `]}}`
}

func deployment(images ...string) string {
	var cs []string
	for i, img := range images {
		cs = append(cs, fmt.Sprintf(`{"name":"c%d","image":%q}`, i, img))
	}
	return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"initContainers":[{"name":"init","image":"` + signed + `"}],"containers":[` + strings.Join(cs, ",") + `]}}}}`
}

func post(t *testing.T, h http.Handler, target string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldentest.JSON(t, name, got, *update)
}

func TestValidateGolden(t *testing.T) {
	tests := []struct {
		name        string
		golden      string
		policy      admission.Policy
		body        []byte
		wantAllowed bool
		wantCalls   int
	}{
		{
			name:      "deny mode denies and lists every failing image",
			golden:    "validate-deny.json",
			body:      reviewBody(APIVersionV1, opCreate, "apps", "Deployment", "team-a", deployment(signed, unsigned, untrusted)),
			wantCalls: 3,
		},
		{
			name:        "audit mode allows with warnings and audit annotations",
			golden:      "validate-audit.json",
			policy:      admission.Policy{Mode: admission.ModeAudit},
			body:        reviewBody(APIVersionV1, opUpdate, "", "Pod", "team-a", pod(signed, unsigned)),
			wantAllowed: true,
			wantCalls:   2,
		},
		{
			name:        "v1beta1 is answered in v1beta1",
			golden:      "validate-allowed-v1beta1.json",
			body:        reviewBody(APIVersionV1beta1, opCreate, "", "Pod", "team-a", pod(signed+"@"+digestApp)),
			wantAllowed: true,
			wantCalls:   1,
		},
		{
			name:   "unsupported kind is refused with 400 in deny mode",
			golden: "validate-unsupported-kind.json",
			body:   reviewBody(APIVersionV1, opCreate, "", "Service", "team-a", `{"spec":{}}`),
		},
		{
			name:        "excluded namespace",
			golden:      "validate-excluded.json",
			body:        reviewBody(APIVersionV1, opCreate, "", "Pod", "kube-system", pod(unsigned)),
			wantAllowed: true,
		},
		{
			name:        "delete is allowed without verification",
			golden:      "validate-delete.json",
			body:        reviewBody(APIVersionV1, opDelete, "", "Pod", "team-a", ""),
			wantAllowed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &fakeVerifier{}
			h := NewValidateHandler(admission.New(v, fakeResolver{}, tt.policy, admission.Options{}), Options{})
			rec := post(t, h, "/validate?timeout=10s", tt.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			golden(t, tt.golden, rec.Body.Bytes())
			var rv review
			if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
				t.Fatal(err)
			}
			if rv.Response.UID != "705ab4f5-6393-11e8-b7cc-42010a800002" {
				t.Errorf("response uid = %q, want the request's", rv.Response.UID)
			}
			if rv.Response.Allowed != tt.wantAllowed {
				t.Logf("response: %s", rec.Body)
				t.Errorf("allowed = %v, want %v", rv.Response.Allowed, tt.wantAllowed)
			}
			if v.calls != tt.wantCalls {
				t.Errorf("Verify called %d times, want %d", v.calls, tt.wantCalls)
			}
		})
	}
}

func TestMutateGolden(t *testing.T) {
	tests := []struct {
		name   string
		golden string
		policy admission.Policy
		body   []byte
		want   []admission.PatchOp
	}{
		{
			name:   "tags are pinned, keeping the tag",
			golden: "mutate.json",
			body:   reviewBody(APIVersionV1, opCreate, "apps", "Deployment", "team-a", deployment(signed, signed+"@"+digestApp, unsigned)),
			want: []admission.PatchOp{
				{Op: "replace", Path: "/spec/template/spec/initContainers/0/image", Value: signed + "@" + digestApp},
				{Op: "replace", Path: "/spec/template/spec/containers/0/image", Value: signed + "@" + digestApp},
			},
		},
		{
			name:   "digest only",
			golden: "mutate-digest-only.json",
			policy: admission.Policy{PinDigestOnly: true},
			body:   reviewBody(APIVersionV1beta1, opCreate, "", "Pod", "team-a", pod(signed)),
			want:   []admission.PatchOp{{Op: "replace", Path: "/spec/containers/0/image", Value: "ghcr.io/org/app@" + digestApp}},
		},
		{
			name:   "an already pinned object gets no patch",
			golden: "mutate-none.json",
			body:   reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(signed+"@"+digestApp)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewMutateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, tt.policy, admission.Options{}), Options{})
			rec := post(t, h, "/mutate", tt.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
			}
			golden(t, tt.golden, rec.Body.Bytes())

			// The patch field is base64 JSON Patch, as the API server wants.
			var raw struct {
				Response struct {
					Allowed   bool    `json:"allowed"`
					Patch     *string `json:"patch"`
					PatchType *string `json:"patchType"`
				} `json:"response"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			if !raw.Response.Allowed {
				t.Error("mutation refused")
			}
			if tt.want == nil {
				if raw.Response.Patch != nil || raw.Response.PatchType != nil {
					t.Errorf("patch %v / patchType %v, want neither", raw.Response.Patch, raw.Response.PatchType)
				}
				return
			}
			if raw.Response.PatchType == nil || *raw.Response.PatchType != "JSONPatch" {
				t.Errorf("patchType = %v, want JSONPatch", raw.Response.PatchType)
			}
			decoded, err := base64.StdEncoding.DecodeString(*raw.Response.Patch)
			if err != nil {
				t.Fatalf("patch is not base64: %v", err)
			}
			var ops []admission.PatchOp
			if err := json.Unmarshal(decoded, &ops); err != nil {
				t.Fatalf("patch is not a JSON Patch: %v", err)
			}
			if diff := cmp.Diff(tt.want, ops); diff != "" {
				t.Errorf("patch mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMutateWarnsOnUnresolvedTags(t *testing.T) {
	h := NewMutateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, admission.Policy{Mode: admission.ModeAudit}, admission.Options{}), Options{})
	rec := post(t, h, "/mutate", reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(gone)))
	var rv review
	if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
		t.Fatal(err)
	}
	if !rv.Response.Allowed || rv.Response.Patch != nil {
		t.Errorf("response = %+v, want allowed without patch: validation decides", rv.Response)
	}
	want := []string{"cannot pin ghcr.io/org/gone:v1 to a digest: the registry lookup failed"}
	if diff := cmp.Diff(want, rv.Response.Warnings); diff != "" {
		t.Errorf("warnings mismatch (-want +got):\n%s", diff)
	}
}

// TestMutateDeniesUnresolvedTagsInDenyMode: a tag that cannot be pinned is
// refused by the mutating webhook in deny mode, instead of being left for
// the kubelet to resolve later.
func TestMutateDeniesUnresolvedTagsInDenyMode(t *testing.T) {
	h := NewMutateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, admission.Policy{}, admission.Options{}), Options{})
	rec := post(t, h, "/mutate", reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(gone, signed)))
	var rv review
	if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
		t.Fatal(err)
	}
	if rv.Response.Allowed || rv.Response.Status == nil || rv.Response.Status.Code != http.StatusForbidden ||
		!strings.Contains(rv.Response.Status.Message, "cannot pin ghcr.io/org/gone:v1 to a digest") || rv.Response.Patch != nil {
		t.Errorf("response = %+v, want a 403 refusal naming the unpinned tag and no patch", rv.Response)
	}
}

// TestValidateRefusesUnpinnedTags: in deny mode a tag without its digest
// is refused even when it verifies; the pinned form is admitted; the
// policy can relax it.
func TestValidateRefusesUnpinnedTags(t *testing.T) {
	for _, tt := range []struct {
		name    string
		policy  admission.Policy
		image   string
		allowed bool
	}{
		{"tag only", admission.Policy{}, signed, false},
		{"pinned", admission.Policy{}, signed + "@" + digestApp, true},
		{"tag only, unpinned tags allowed", admission.Policy{AllowUnpinnedTags: true}, signed, true},
		{"tag only, audit mode", admission.Policy{Mode: admission.ModeAudit}, signed, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := NewValidateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, tt.policy, admission.Options{}), Options{})
			rec := post(t, h, "/validate", reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(tt.image)))
			var rv review
			if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
				t.Fatal(err)
			}
			if rv.Response.Allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v: %s", rv.Response.Allowed, tt.allowed, rec.Body)
			}
			if !tt.allowed && !strings.Contains(rv.Response.Status.Message, "names a tag without a digest") {
				t.Errorf("denial does not say the tag is not pinned: %s", rv.Response.Status.Message)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	valid := string(reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(signed)))
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantMessage string
	}{
		{"GET", http.MethodGet, "application/json", valid, http.StatusMethodNotAllowed, "method GET not allowed"},
		{"PUT", http.MethodPut, "application/json", valid, http.StatusMethodNotAllowed, "method PUT not allowed"},
		{"no content type", http.MethodPost, "", valid, http.StatusUnsupportedMediaType, `content type ""`},
		{"text content type", http.MethodPost, "text/plain", valid, http.StatusUnsupportedMediaType, `content type "text/plain"`},
		{"yaml content type", http.MethodPost, "application/yaml", valid, http.StatusUnsupportedMediaType, "want application/json"},
		{"empty body", http.MethodPost, "application/json", "", http.StatusBadRequest, "empty body"},
		{"not JSON", http.MethodPost, "application/json", "apiVersion: v1", http.StatusBadRequest, "not a JSON AdmissionReview"},
		{"truncated", http.MethodPost, "application/json", valid[:len(valid)/2], http.StatusBadRequest, "not a JSON AdmissionReview"},
		{"trailing garbage", http.MethodPost, "application/json", valid + "{}", http.StatusBadRequest, "not a JSON AdmissionReview"},
		{"JSON list", http.MethodPost, "application/json", "[]", http.StatusBadRequest, "not a JSON AdmissionReview"},
		{"wrong kind", http.MethodPost, "application/json", strings.Replace(valid, `"kind":"AdmissionReview"`, `"kind":"TokenReview"`, 1), http.StatusBadRequest, `kind "TokenReview", want "AdmissionReview"`},
		{"missing kind", http.MethodPost, "application/json", strings.Replace(valid, `"kind":"AdmissionReview",`, ``, 1), http.StatusBadRequest, `kind "", want "AdmissionReview"`},
		{"unknown apiVersion", http.MethodPost, "application/json", strings.Replace(valid, APIVersionV1, "admission.k8s.io/v2", 1), http.StatusBadRequest, `apiVersion "admission.k8s.io/v2"`},
		{"apiVersion without group", http.MethodPost, "application/json", strings.Replace(valid, APIVersionV1, "v1", 1), http.StatusBadRequest, `apiVersion "v1"`},
		{"no request", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest, "no request"},
		{"null request", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`, http.StatusBadRequest, "no request"},
		{"response instead of request", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"x","allowed":true}}`, http.StatusBadRequest, "no request"},
		{"no uid", http.MethodPost, "application/json", strings.Replace(valid, `"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",`, ``, 1), http.StatusBadRequest, "request.uid is empty"},
		{"uid is a number", http.MethodPost, "application/json", strings.Replace(valid, `"705ab4f5-6393-11e8-b7cc-42010a800002"`, `42`, 1), http.StatusBadRequest, "not a JSON AdmissionReview"},
		{"no object kind", http.MethodPost, "application/json", strings.Replace(valid, `"kind":{"group":"","version":"v1","kind":"Pod"}`, `"kind":{}`, 1), http.StatusBadRequest, "request.kind.kind is empty"},
		{"unknown operation", http.MethodPost, "application/json", strings.Replace(valid, `"operation":"CREATE"`, `"operation":"PATCH"`, 1), http.StatusBadRequest, `request.operation "PATCH"`},
		{"lowercase operation", http.MethodPost, "application/json", strings.Replace(valid, `"operation":"CREATE"`, `"operation":"create"`, 1), http.StatusBadRequest, `request.operation "create"`},
		{"dryRun is a string", http.MethodPost, "application/json", strings.Replace(valid, `"dryRun":false`, `"dryRun":"no"`, 1), http.StatusBadRequest, "not a JSON AdmissionReview"},
		{"too large", http.MethodPost, "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + strings.Repeat("x", MaxReviewBytes) + `"}}`, http.StatusRequestEntityTooLarge, "larger than 7340032 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &fakeVerifier{}
			a := admission.New(v, fakeResolver{}, admission.Policy{}, admission.Options{})
			for _, h := range []http.Handler{NewValidateHandler(a, Options{}), NewMutateHandler(a, Options{})} {
				req := httptest.NewRequest(tt.method, "/validate", strings.NewReader(tt.body))
				if tt.contentType != "" {
					req.Header.Set("Content-Type", tt.contentType)
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tt.wantStatus {
					t.Errorf("status = %d, want %d; body %s", rec.Code, tt.wantStatus, rec.Body)
				}
				var rv review
				if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
					t.Fatalf("error body is not an AdmissionReview: %v: %s", err, rec.Body)
				}
				if rv.Response == nil || rv.Response.Allowed || rv.Response.Status == nil ||
					rv.Response.Status.Code != int32(tt.wantStatus) || !strings.Contains(rv.Response.Status.Message, tt.wantMessage) {
					t.Errorf("response = %s, want refused with code %d and a message containing %q", rec.Body, tt.wantStatus, tt.wantMessage)
				}
				if tt.wantStatus == http.StatusMethodNotAllowed && rec.Header().Get("Allow") != http.MethodPost {
					t.Errorf("Allow = %q, want POST", rec.Header().Get("Allow"))
				}
			}
			if v.calls != 0 {
				t.Errorf("a bad request reached the verifier %d times", v.calls)
			}
		})
	}
}

func TestContentTypeWithCharset(t *testing.T) {
	h := NewValidateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, admission.Policy{}, admission.Options{}), Options{})
	req := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(signed))))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d, want 200", rec.Code)
	}
}

func TestDryRunIsDecided(t *testing.T) {
	v := &fakeVerifier{}
	h := NewValidateHandler(admission.New(v, fakeResolver{}, admission.Policy{}, admission.Options{}), Options{})
	body := bytes.Replace(reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(unsigned)), []byte(`"dryRun":false`), []byte(`"dryRun":true`), 1)
	rec := post(t, h, "/validate", body)
	var rv review
	if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
		t.Fatal(err)
	}
	if rv.Response.Allowed || v.calls != 1 {
		t.Errorf("dry run: allowed %v after %d verifications, want denied after 1", rv.Response.Allowed, v.calls)
	}
}

func TestTimeoutParameter(t *testing.T) {
	tests := []struct {
		name      string
		target    string
		wantAfter time.Duration
	}{
		{"the API server's timeout less the margin", "/validate?timeout=1s", 800 * time.Millisecond},
		{"capped by the policy deadline", "/validate?timeout=10s", 2 * time.Second},
		{"no parameter: the policy deadline", "/validate", 2 * time.Second},
		{"unparsable: ignored", "/validate?timeout=soon", 2 * time.Second},
		{"implausibly long: ignored", "/validate?timeout=5m", 2 * time.Second},
		{"negative: ignored", "/validate?timeout=-1s", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := &fakeVerifier{hang: time.Hour}
				h := NewValidateHandler(admission.New(v, fakeResolver{}, admission.Policy{Deadline: 2 * time.Second}, admission.Options{}), Options{})
				start := time.Now()
				rec := post(t, h, tt.target, reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(signed)))
				if elapsed := time.Since(start); elapsed != tt.wantAfter {
					t.Errorf("answered after %v, want %v", elapsed, tt.wantAfter)
				}
				var rv review
				if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
					t.Fatal(err)
				}
				want := fmt.Sprintf("not verified within %d ms", tt.wantAfter.Milliseconds())
				if rv.Response.Allowed || !strings.Contains(rv.Response.Status.Message, want) {
					t.Errorf("response = %+v, want denied with %q", rv.Response.Status, want)
				}
				time.Sleep(time.Hour) // let the abandoned verification finish
			})
		})
	}
}

func TestDeadline(t *testing.T) {
	tests := []struct {
		timeout, margin, want time.Duration
	}{
		{10 * time.Second, 200 * time.Millisecond, 9800 * time.Millisecond},
		{time.Second, 200 * time.Millisecond, 800 * time.Millisecond},
		{time.Second, 900 * time.Millisecond, 500 * time.Millisecond},
		{300 * time.Millisecond, time.Second, 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.timeout, tt.margin), func(t *testing.T) {
			if got := deadline(tt.timeout, tt.margin); got != tt.want {
				t.Errorf("deadline(%v, %v) = %v, want %v", tt.timeout, tt.margin, got, tt.want)
			}
		})
	}
}

// TestRequestFromKubernetesTypes decodes a review marshalled by k8s.io/api's
// own admission/v1 and core/v1 types (testdata/request-pod-v1.json, with
// oldObject null, userInfo, options and requestKind as the API server
// sends them), so the hand-written wire types are checked against the real
// ones. The golden responses were likewise checked to decode into
// admission/v1 and v1beta1 AdmissionReview with unknown fields disallowed.
func TestRequestFromKubernetesTypes(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "request-pod-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	v := &fakeVerifier{}
	h := NewValidateHandler(admission.New(v, fakeResolver{}, admission.Policy{}, admission.Options{}), Options{})
	rec := post(t, h, "/validate?timeout=10s", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	golden(t, "validate-k8s-request.json", rec.Body.Bytes())
	if v.calls != 2 {
		t.Errorf("Verify called %d times, want 2 (init container and container)", v.calls)
	}
}
