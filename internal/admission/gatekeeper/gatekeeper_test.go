package gatekeeper

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
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
	digestSig = "sha256:5555555555555555555555555555555555555555555555555555555555555555"
	digestBad = "sha256:6666666666666666666666666666666666666666666666666666666666666666"
	signed    = "registry.local:5000/org/app:v1"
	unsigned  = "registry.local:5000/org/unsigned:v1"
	untrusted = "registry.local:5000/org/untrusted:v1"
	downReg   = "down.example.com/org/app:v1"
	exempted  = "registry.k8s.io/pause:3.9"
)

// fakeVerifier gives canned results in the shapes the engine returns; it is
// a seam for this package's encoding only.
type fakeVerifier struct {
	hang  time.Duration
	mu    sync.Mutex
	calls map[string]int
}

func (f *fakeVerifier) Verify(ctx context.Context, ref string) verify.Result {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[ref]++
	f.mu.Unlock()
	if f.hang > 0 {
		time.Sleep(f.hang)
	}
	switch strings.TrimSuffix(ref, "@"+digestApp) {
	case signed, "registry.local:5000/org/app":
		return verify.Result{
			Reference: ref, Digest: digestApp, Tag: "v1", Verified: true, Level: "strict", Policy: "prod",
			Code: verify.CodeVerified, Reason: "verified: signature by CN=Builder,O=Org",
			Signatures: []verify.SignatureResult{
				{
					Digest: digestBad, Format: "application/jose+json",
					SignerSubject: "CN=Old Builder,O=Org", SignerIssuer: "CN=Old CA,O=Org",
					Code:        verify.CodeCertificateExpired,
					Reason:      "the signing certificate CN=Old Builder,O=Org expired on 2025-01-01",
					Remediation: "sign the image again with a valid certificate",
				},
				{
					Digest: digestSig, Format: "application/cose",
					SignerSubject: "CN=Builder,O=Org", SignerIssuer: "CN=Org CA,O=Org",
					Verified: true, Code: verify.CodeVerified,
				},
			},
		}
	case untrusted:
		return verify.Result{
			Reference: ref, Digest: digestApp, Tag: "v1", Code: verify.CodeUntrustedSigner,
			Reason: "no signature of registry.local:5000/org/untrusted:v1 passed policy prod",
			Signatures: []verify.SignatureResult{{
				Digest: digestSig, Format: "application/cose",
				SignerSubject: "CN=Mallory", SignerIssuer: "CN=Mallory",
				Code:        verify.CodeUntrustedSigner,
				Reason:      "signature made by CN=Mallory is not trusted by policy prod",
				Remediation: "add the signer's CA to trust store ca:prod, or fix trustedIdentities",
			}},
		}
	case downReg:
		return verify.Result{
			Reference: ref, Code: verify.CodeRegistryUnavailable, Transient: true,
			Reason:      "registry down.example.com did not answer (503)",
			Remediation: "retry later; check the registry's health",
		}
	}
	return verify.Result{
		Reference: ref, Digest: digestApp, Tag: "v1", Code: verify.CodeNoSignature,
		Reason:      "no Notary Project signature found for " + ref,
		Remediation: "sign the image with hallmark sign",
	}
}

type fakeResolver struct{ hang time.Duration }

func (f fakeResolver) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	if f.hang > 0 {
		select {
		case <-time.After(f.hang):
		case <-ctx.Done():
			return ocispec.Descriptor{}, ctx.Err()
		}
	}
	if ref == signed || ref == unsigned {
		return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.Digest(digestApp), Size: 1}, nil
	}
	return ocispec.Descriptor{}, fmt.Errorf("manifest of %s not found", ref)
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 2, 10, 4, 5, 123456789, time.UTC) }

func testOptions() Options {
	return Options{Now: fixedNow, TraceIDHeader: "X-Correlation-Id"}
}

func providerRequestBody(keys ...string) []byte {
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "externaldata.gatekeeper.sh/v1beta1",
		"kind":       "ProviderRequest",
		"request":    map[string]any{"keys": keys},
	})
	return b
}

// post sends body as Gatekeeper does under mutual TLS: the request carries
// a verified client certificate chain, so "[namespace]" prefixes are
// honoured (TestNamespacePrefixOnlyFromGatekeeper runs the real handshake).
func post(t *testing.T, h http.Handler, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, VerifyPath, bytes.NewReader(body))
	req.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{}}}}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Correlation-Id", "trace-1234")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldentest.JSON(t, name, got, *update)
}

// decoded is a ProviderResponse read back generically, as Gatekeeper's
// Rego sees it.
type decoded struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Response   struct {
		Idempotent  *bool  `json:"idempotent"`
		SystemError string `json:"systemError"`
		Items       []struct {
			Key   string `json:"key"`
			Value any    `json:"value"`
			Error string `json:"error"`
		} `json:"items"`
	} `json:"response"`
}

func decode(t *testing.T, body []byte) decoded {
	t.Helper()
	var d decoded
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatalf("response is not a ProviderResponse: %v\n%s", err, body)
	}
	return d
}

func newAdmitter(v admission.Verifier, r admission.Resolver, p admission.Policy) *admission.Admitter {
	return admission.New(v, r, p, admission.Options{})
}

func TestVerifyGolden(t *testing.T) {
	v := &fakeVerifier{}
	h := NewVerifyHandler(newAdmitter(v, fakeResolver{}, admission.Policy{ExemptImages: []string{"registry.k8s.io/*"}}), testOptions())
	keys := []string{
		signed,
		unsigned,
		"[team-a]" + untrusted,
		downReg,
		"[kube-system]" + unsigned, // excluded namespace
		exempted,
		"[team-b]" + signed, // the same image, verified once
		"nginx:1.25",        // hallmark never guesses docker.io
		"",
		signed + "@" + digestApp, // pinned, as Gatekeeper's mutation leaves it
	}
	rec := post(t, h, providerRequestBody(keys...))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	golden(t, "verify.json", rec.Body.Bytes())

	d := decode(t, rec.Body.Bytes())
	if d.Response.Idempotent != nil {
		t.Errorf("verify answer carries idempotent=%v; only mutate may", *d.Response.Idempotent)
	}
	if len(d.Response.Items) != len(keys) {
		t.Fatalf("%d items for %d keys", len(d.Response.Items), len(keys))
	}
	// A tag without its digest is not verified in deny mode, even when the
	// tag verifies: the kubelet would pull the tag again.
	wantSuccess := map[int]bool{0: false, 1: false, 2: false, 3: false, 4: true, 5: true, 6: false, 9: true}
	for i, it := range d.Response.Items {
		if it.Key != keys[i] {
			t.Errorf("item %d key = %q, want %q (Gatekeeper matches items by exact key)", i, it.Key, keys[i])
		}
		want, hasValue := wantSuccess[i]
		if !hasValue {
			if it.Error == "" || it.Value != nil {
				t.Errorf("item %d (%q) = %+v, want an error and no value", i, keys[i], it)
			}
			continue
		}
		value, ok := it.Value.(map[string]any)
		if !ok || value["isSuccess"] != want {
			t.Errorf("item %d (%q) isSuccess = %v, want %v", i, keys[i], value["isSuccess"], want)
		}
	}
	if v.calls[signed] != 1 || v.calls[unsigned] != 1 || v.calls[signed+"@"+digestApp] != 1 {
		t.Errorf("verifications %v, want each distinct image once", v.calls)
	}
}

// TestIncludeNamespacesStillVerifiesUnprefixedKeys: Ratify's default
// template sends keys without a "[namespace]" prefix; an inclusion list
// must not let them pass unverified.
func TestIncludeNamespacesStillVerifiesUnprefixedKeys(t *testing.T) {
	v := &fakeVerifier{}
	h := NewVerifyHandler(newAdmitter(v, fakeResolver{}, admission.Policy{IncludeNamespaces: []string{"prod"}}), testOptions())
	d := decode(t, post(t, h, providerRequestBody(unsigned, "[dev]"+unsigned)).Body.Bytes())
	if len(d.Response.Items) != 2 {
		t.Fatalf("items %+v", d.Response.Items)
	}
	if value, _ := d.Response.Items[0].Value.(map[string]any); value["isSuccess"] != false {
		t.Errorf("an unprefixed unsigned key passed under an inclusion list: %+v", d.Response.Items[0])
	}
	if value, _ := d.Response.Items[1].Value.(map[string]any); value["isSuccess"] != true {
		t.Errorf("a key of a namespace outside the inclusion list was not skipped: %+v", d.Response.Items[1])
	}
	if v.calls[unsigned] != 1 {
		t.Errorf("verifications %v; want the unprefixed key verified", v.calls)
	}
}

// TestRatifyTemplateView evaluates the answer the way Ratify's default
// ConstraintTemplate does: a violation for any item error, and for any
// value whose isSuccess is false.
func TestRatifyTemplateView(t *testing.T) {
	h := NewVerifyHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{}), testOptions())
	tests := []struct {
		keys          []string
		wantViolation bool
	}{
		{[]string{signed + "@" + digestApp}, false},
		{[]string{signed}, true}, // a tag without its digest, in deny mode
		{[]string{signed, signed + "@" + digestApp}, true},
		{[]string{signed + "@" + digestApp, unsigned}, true},
		{[]string{downReg}, true}, // a registry failure never passes
		{[]string{"not a reference"}, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.keys, ","), func(t *testing.T) {
			d := decode(t, post(t, h, providerRequestBody(tt.keys...)).Body.Bytes())
			violation := d.Response.SystemError != ""
			for _, it := range d.Response.Items {
				if it.Error != "" {
					violation = true
				} else if v, _ := it.Value.(map[string]any); v["isSuccess"] != true {
					violation = true
				}
			}
			if violation != tt.wantViolation {
				t.Errorf("violation = %v, want %v; answer %+v", violation, tt.wantViolation, d.Response)
			}
		})
	}
}

func TestMutateGolden(t *testing.T) {
	h := NewMutateHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{ExemptImages: []string{"registry.k8s.io/*"}}), testOptions())
	keys := []string{signed, signed + "@" + digestApp, unsigned, downReg, exempted, "nginx:1.25"}
	rec := post(t, h, providerRequestBody(keys...))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	golden(t, "mutate.json", rec.Body.Bytes())
	d := decode(t, rec.Body.Bytes())
	if d.Response.Idempotent == nil || !*d.Response.Idempotent {
		t.Error("mutate answer is not marked idempotent")
	}
	// The unsigned tag resolves, but its digest does not verify: it is not
	// pinned.
	want := []string{signed + "@" + digestApp, signed + "@" + digestApp, unsigned, downReg, exempted, "nginx:1.25"}
	for i, it := range d.Response.Items {
		if it.Value != want[i] {
			t.Errorf("item %d value = %v, want %q", i, it.Value, want[i])
		}
	}
	if d.Response.Items[2].Error == "" || d.Response.Items[3].Error == "" || d.Response.Items[5].Error == "" {
		t.Error("unverified, unresolvable and invalid keys must carry an error")
	}

	// Mutating the answer again changes nothing.
	var again []string
	for _, it := range d.Response.Items {
		again = append(again, it.Value.(string))
	}
	d2 := decode(t, post(t, h, providerRequestBody(again[:3]...)).Body.Bytes())
	for i, it := range d2.Response.Items {
		if it.Value != again[i] {
			t.Errorf("second mutation of %q gave %v", again[i], it.Value)
		}
	}
}

func TestMutateDigestOnly(t *testing.T) {
	h := NewMutateHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{PinDigestOnly: true}), testOptions())
	d := decode(t, post(t, h, providerRequestBody(signed)).Body.Bytes())
	if got := d.Response.Items[0].Value; got != "registry.local:5000/org/app@"+digestApp {
		t.Errorf("value = %v, want the repository at the digest, as Ratify v1 writes it", got)
	}
}

func TestEmptyKeys(t *testing.T) {
	for _, body := range []string{
		`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{}}`,
		`{"apiVersion":"externaldata.gatekeeper.sh/v1alpha1","kind":"ProviderRequest","request":{"keys":[]}}`,
		`{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":null}}`,
	} {
		h := NewVerifyHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{}), testOptions())
		rec := post(t, h, []byte(body))
		if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"apiVersion":"externaldata.gatekeeper.sh/v1alpha1","kind":"ProviderResponse","response":{}}` {
			t.Errorf("%s: got %d %s", body, rec.Code, rec.Body)
		}
	}
}

func TestBadRequests(t *testing.T) {
	valid := string(providerRequestBody(signed))
	manyKeys := make([]string, MaxKeys+1)
	for i := range manyKeys {
		manyKeys[i] = fmt.Sprintf("r.io/a:%d", i)
	}
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		wantStatus  int
		wantError   string
	}{
		{"GET", http.MethodGet, "application/json", valid, http.StatusMethodNotAllowed, "method GET not allowed"},
		{"text content type", http.MethodPost, "text/plain", valid, http.StatusUnsupportedMediaType, `content type "text/plain"`},
		{"bad content type", http.MethodPost, ";;", valid, http.StatusUnsupportedMediaType, "want application/json"},
		{"empty body", http.MethodPost, "application/json", "", http.StatusBadRequest, "empty body"},
		{"not JSON", http.MethodPost, "application/json", "keys: [a]", http.StatusBadRequest, "not a JSON ProviderRequest"},
		{"truncated", http.MethodPost, "application/json", valid[:20], http.StatusBadRequest, "not a JSON ProviderRequest"},
		{"trailing data", http.MethodPost, "application/json", valid + valid, http.StatusBadRequest, "not a JSON ProviderRequest"},
		{"list", http.MethodPost, "application/json", `[]`, http.StatusBadRequest, "not a JSON ProviderRequest"},
		{"wrong kind", http.MethodPost, "application/json", strings.Replace(valid, "ProviderRequest", "ProviderResponse", 1), http.StatusBadRequest, `kind "ProviderResponse"`},
		{"no kind", http.MethodPost, "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","request":{"keys":["a/b:c"]}}`, http.StatusBadRequest, `kind ""`},
		{"wrong apiVersion", http.MethodPost, "application/json", strings.Replace(valid, "externaldata.gatekeeper.sh/v1beta1", "externaldata.gatekeeper.sh/v2", 1), http.StatusBadRequest, `apiVersion "externaldata.gatekeeper.sh/v2"`},
		{"no request", http.MethodPost, "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest"}`, http.StatusBadRequest, "no request"},
		{"keys are numbers", http.MethodPost, "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[1]}}`, http.StatusBadRequest, "not a JSON ProviderRequest"},
		{"keys is a string", http.MethodPost, "application/json", `{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":"a/b:c"}}`, http.StatusBadRequest, "not a JSON ProviderRequest"},
		{"too many keys", http.MethodPost, "application/json", string(providerRequestBody(manyKeys...)), http.StatusRequestEntityTooLarge, "1025 keys, more than the 1024"},
		{"too large", http.MethodPost, "application/json", string(providerRequestBody(strings.Repeat("a", MaxRequestBytes))), http.StatusRequestEntityTooLarge, "larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &fakeVerifier{}
			a := newAdmitter(v, fakeResolver{}, admission.Policy{})
			for _, mutate := range []bool{false, true} {
				var h http.Handler = NewVerifyHandler(a, testOptions())
				if mutate {
					h = NewMutateHandler(a, testOptions())
				}
				req := httptest.NewRequest(tt.method, VerifyPath, strings.NewReader(tt.body))
				req.Header.Set("Content-Type", tt.contentType)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tt.wantStatus {
					t.Errorf("mutate=%v: status = %d, want %d; body %s", mutate, rec.Code, tt.wantStatus, rec.Body)
				}
				d := decode(t, rec.Body.Bytes())
				if d.Kind != "ProviderResponse" || len(d.Response.Items) != 0 || !strings.Contains(d.Response.SystemError, tt.wantError) {
					t.Errorf("mutate=%v: answer %s, want a systemError containing %q and no items", mutate, rec.Body, tt.wantError)
				}
				if got := d.Response.Idempotent != nil && *d.Response.Idempotent; got != mutate {
					t.Errorf("mutate=%v: idempotent = %v", mutate, got)
				}
			}
			if len(v.calls) != 0 {
				t.Errorf("a bad request reached the verifier: %v", v.calls)
			}
		})
	}
}

func TestMissingContentTypeIsJSON(t *testing.T) {
	h := NewVerifyHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{}), testOptions())
	req := httptest.NewRequest(http.MethodPost, VerifyPath, bytes.NewReader(providerRequestBody(signed)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d, want 200", rec.Code)
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestTraceID(t *testing.T) {
	tests := []struct {
		name, header, value string
		want                string // "" means a random UUID
	}{
		{"from the configured header", "X-Correlation-Id", "abc-123", "abc-123"},
		{"header absent", "X-Correlation-Id", "", ""},
		{"no header configured", "", "abc-123", ""},
		{"implausibly long header", "X-Correlation-Id", strings.Repeat("a", 500), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewVerifyHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{}), Options{TraceIDHeader: tt.header})
			req := httptest.NewRequest(http.MethodPost, VerifyPath, bytes.NewReader(providerRequestBody(signed, unsigned)))
			if tt.value != "" {
				req.Header.Set("X-Correlation-Id", tt.value)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			d := decode(t, rec.Body.Bytes())
			first := d.Response.Items[0].Value.(map[string]any)["traceID"].(string)
			second := d.Response.Items[1].Value.(map[string]any)["traceID"].(string)
			if first != second {
				t.Errorf("items of one request have trace IDs %q and %q", first, second)
			}
			if tt.want != "" && first != tt.want {
				t.Errorf("traceID = %q, want %q", first, tt.want)
			}
			if tt.want == "" && !uuidV4.MatchString(first) {
				t.Errorf("traceID = %q, want a random UUID", first)
			}
		})
	}
}

func TestVerifyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &fakeVerifier{hang: time.Hour}
		opts := testOptions()
		opts.Timeout = time.Second
		h := NewVerifyHandler(newAdmitter(v, fakeResolver{}, admission.Policy{}), opts)
		start := time.Now()
		rec := post(t, h, providerRequestBody(signed))
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Errorf("answered after %v, want the 1s timeout", elapsed)
		}
		// Unlike Ratify, a timeout is a per-item failure, not a systemError
		// that loses every item.
		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d", rec.Code)
		}
		d := decode(t, rec.Body.Bytes())
		value := d.Response.Items[0].Value.(map[string]any)
		report := value["verifierReports"].([]any)[0].(map[string]any)
		if value["isSuccess"] != false || !strings.Contains(report["errorReason"].(string), "not verified within 1000 ms") {
			t.Errorf("value = %v, want isSuccess false with the deadline as reason", value)
		}
		time.Sleep(time.Hour)
	})
}

func TestMutateDefaultTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewMutateHandler(newAdmitter(&fakeVerifier{}, fakeResolver{hang: time.Hour}, admission.Policy{}), testOptions())
		start := time.Now()
		d := decode(t, post(t, h, providerRequestBody(signed)).Body.Bytes())
		if elapsed := time.Since(start); elapsed != DefaultMutateTimeout {
			t.Errorf("answered after %v, want %v", elapsed, DefaultMutateTimeout)
		}
		it := d.Response.Items[0]
		if it.Value != signed || !strings.Contains(it.Error, "not resolved within 950 ms") {
			t.Errorf("item = %+v, want the key back with a deadline error", it)
		}
	})
}

func TestSplitKey(t *testing.T) {
	tests := []struct{ key, ns, image string }{
		{"ghcr.io/a/b:v1", "", "ghcr.io/a/b:v1"},
		{"[team-a]ghcr.io/a/b:v1", "team-a", "ghcr.io/a/b:v1"},
		{"[]ghcr.io/a/b:v1", "", "ghcr.io/a/b:v1"},
		{"[team-a]", "team-a", ""},
		{"[team-a", "", "[team-a"},
		{"[a]]b", "a", "]b"},
		{"x[a]y", "", "x[a]y"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			ns, image := splitKey(tt.key)
			if ns != tt.ns || image != tt.image {
				t.Errorf("splitKey(%q) = %q, %q; want %q, %q", tt.key, ns, image, tt.ns, tt.image)
			}
		})
	}
}

// TestReportSubjectAsGiven: like Ratify, a report names the image as the
// request gave it, so a tag stays a tag.
func TestReportSubjectAsGiven(t *testing.T) {
	const tagged = "ghcr.io/a/b:v1"
	got := report(admission.ImageVerdict{Image: tagged, Result: verify.Result{
		Reference: tagged, Digest: digestApp, Verified: true, Code: verify.CodeVerified,
		Signatures: []verify.SignatureResult{{Digest: digestApp, Verified: true, SignerSubject: "CN=a", SignerIssuer: "CN=a"}},
	}}, DefaultVerifierName, "t", "ts")
	if len(got.VerifierReports) != 1 || got.VerifierReports[0].Subject != tagged {
		t.Fatalf("report subject = %+v, want %q", got.VerifierReports, tagged)
	}
}

func TestReportOfSkipLevel(t *testing.T) {
	// A trust policy with level skip verifies nothing and passes.
	got := report(admission.ImageVerdict{Image: signed, Result: verify.Result{
		Reference: signed, Digest: digestApp, Verified: true, Level: "skip", Code: verify.CodeSkipped,
		Reason: "policy dev skips verification of registry.local:5000/org/app",
	}}, DefaultVerifierName, "t", "ts")
	want := verificationResponse{Version: "0.2.0", IsSuccess: true, TraceID: "t", Timestamp: "ts", VerifierReports: []verifierReport{{
		Subject: signed, IsSuccess: true,
		Name: DefaultVerifierName, VerifierName: DefaultVerifierName, Type: "notation", VerifierType: "notation",
		// The pod author learns that nothing was checked, not the name of
		// the statement that says so.
		Message: "this cluster's trust policy does not require a signature for this image's repository",
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("report() mismatch (-want +got):\n%s", diff)
	}
}
