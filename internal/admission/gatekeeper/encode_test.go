package gatekeeper

import (
	"bytes"
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// strangeStrings are strings encoding/json escapes: HTML characters,
// quotes, control characters, non-ASCII, invalid UTF-8, U+2028.
var strangeStrings = []string{
	"", "plain", `a "quoted" \ value`, "<script>&amp;</script>", "tab\tnew\nline\r\x00\x1f\x7f",
	"CN=Zoë,O=Ünïcode", "bad \xff\xfe utf-8", "line\u2028separator\u2029", "emoji 🙂",
}

// responses builds ProviderResponses of every shape the handlers write,
// from the verdicts report encodes, with s in every string.
func responses(s string, b bool) []providerResponse {
	sig := verify.SignatureResult{Digest: "sha256:" + s, SignerSubject: "CN=" + s, SignerIssuer: s, Verified: b, Code: verify.CodeVerified, Reason: s, Remediation: s}
	if !b {
		sig.Code = verify.CodeUntrustedSigner
	}
	cosignSig := sig
	cosignSig.Verifier = verifierCosign
	noSubject := sig
	noSubject.SignerSubject = ""
	cosignNoSubject := noSubject
	cosignNoSubject.Verifier = verifierCosign
	verdicts := []admission.ImageVerdict{
		{Image: s, Result: verify.Result{Verified: b, Code: verify.CodeVerified, Reason: s, Signatures: []verify.SignatureResult{sig}}},
		{Image: s, Result: verify.Result{Verified: b, Code: verify.CodeUntrustedSigner, Reason: s, Remediation: s, Signatures: []verify.SignatureResult{sig, noSubject, sig}}},
		{Image: s, Result: verify.Result{Verified: b, Code: verify.CodeSkipped, Reason: s, Policy: s}},
		{Image: s, Result: verify.Result{Code: verify.CodeNoSignature, Reason: s, Remediation: s}},
		{Image: s, Result: verify.Result{Verified: b, Policy: s, Signatures: []verify.SignatureResult{cosignSig, sig, cosignNoSubject}}},
		{Image: s, Skipped: s},
		{Image: s, Namespace: s, Skipped: "namespace " + s + " is excluded"},
	}
	var items []item
	for i, v := range verdicts {
		items = append(items, item{Key: s, Value: report(v, s, s, s)})
		items = append(items, item{Key: fmt.Sprint(i), Value: report(v, "", "", "")})
	}
	items = append(items,
		item{Key: s, Error: s},
		item{Key: s, Value: s},
		item{Key: s, Value: s, Error: s},
		item{Value: ""},
		item{},
		item{Key: s, Value: map[string]any{"other": s, "n": 1}},
		item{Key: s, Value: verificationResponse{Version: s, VerifierReports: []verifierReport{{Extensions: map[string]string{"x": s}}}}},
		item{Key: s, Value: verificationResponse{VerifierReports: []verifierReport{{NestedResults: []verifierReport{{Subject: s, Extensions: &extensions{SN: s}}}}}}},
		item{Key: s, Value: verificationResponse{VerifierReports: []verifierReport{{Extensions: (*extensions)(nil)}, {Extensions: (*cosignExtensions)(nil)}}}},
		item{Key: s, Value: verificationResponse{VerifierReports: []verifierReport{{Extensions: &cosignExtensions{Signatures: []cosignSignature{{Signature: s}}}}}}},
	)
	return []providerResponse{
		{APIVersion: responseAPIVersion, Kind: kindResponse, Response: responseBody{Items: items}},
		{APIVersion: responseAPIVersion, Kind: kindResponse, Response: responseBody{Idempotent: b, Items: items[:3], SystemError: s}},
		{APIVersion: s, Kind: s, Response: responseBody{Idempotent: true, SystemError: s}},
		{Response: responseBody{Items: []item{}}},
		{},
	}
}

// checkAgreement fails t unless marshalResponse writes what json.Marshal
// writes for r, or both fail.
func checkAgreement(t *testing.T, r providerResponse) {
	t.Helper()
	want, wantErr := json.Marshal(r)
	got, err := marshalResponse(r)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("marshalResponse error %v, json.Marshal error %v", err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("marshalResponse differs from json.Marshal:\n got %s\nwant %s", got, want)
	}
}

// TestEncodeAgrees: the hand-written encoder writes exactly what
// encoding/json writes, for every shape of answer and every kind of
// string.
func TestEncodeAgrees(t *testing.T) {
	for _, s := range strangeStrings {
		for _, b := range []bool{true, false} {
			for i, r := range responses(s, b) {
				t.Run(fmt.Sprintf("%q/%v/%d", s, b, i), func(t *testing.T) { checkAgreement(t, r) })
			}
		}
	}
	// A value json.Marshal cannot encode fails both.
	checkAgreement(t, providerResponse{Response: responseBody{Items: []item{{Key: "k", Value: make(chan int)}}}})
	checkAgreement(t, providerResponse{Response: responseBody{Items: []item{{Key: "k", Value: verificationResponse{VerifierReports: []verifierReport{{Extensions: func() {}}}}}}}})
}

// FuzzEncodeAgrees: on any strings, the hand-written encoder and
// encoding/json write the same bytes.
func FuzzEncodeAgrees(f *testing.F) {
	for _, s := range strangeStrings {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, b bool) {
		for _, r := range responses(s, b) {
			checkAgreement(t, r)
		}
	})
}

// BenchmarkEncodeResponse encodes the answer to 10 verified images with
// the hand-written encoder and with encoding/json.
func BenchmarkEncodeResponse(b *testing.B) {
	sig := verify.SignatureResult{Digest: "sha256:8c4a9f0e1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5", SignerSubject: "CN=bench,O=Hallmark,ST=WA,C=US", SignerIssuer: "CN=bench,O=Hallmark,ST=WA,C=US", Verified: true, Code: verify.CodeVerified}
	v := admission.ImageVerdict{Image: "registry.example.com/team/app@sha256:8c4a9f0e1d2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5", Result: verify.Result{Verified: true, Code: verify.CodeVerified, Signatures: []verify.SignatureResult{sig}}}
	items := make([]item, 10)
	for i := range items {
		items[i] = item{Key: v.Image, Value: report(v, DefaultVerifierName, "0b6f7a4e-2b8c-4d3e-9f1a-5c6d7e8f9a0b", "2026-12-04T15:00:00.123456789Z")}
	}
	r := providerResponse{APIVersion: responseAPIVersion, Kind: kindResponse, Response: responseBody{Items: items}}
	b.Run("hand-written", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := marshalResponse(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports, when the function it returns is called, the process
// CPU time per operation since reportCPU was called: on shared cores a
// steadier figure than the elapsed time.
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() { b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op") }
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
