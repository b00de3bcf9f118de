package gatekeeper

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// TestCosignReport: a cosign signature is reported the way Ratify v1.4.6's
// cosign verifier reports it (pkg/verifier/cosign: name and type "cosign",
// its messages, extensions.signatures[].verifications[] and trustPolicy),
// beside a Notary Project signature's notation report.
func TestCosignReport(t *testing.T) {
	img := "r.io/app@sha256:" + strings.Repeat("a", 64)
	v := admission.ImageVerdict{Image: img, Result: verify.Result{Verified: true, Policy: "upstream", Signatures: []verify.SignatureResult{
		{Digest: "sha256:n", Verified: false, Code: verify.CodeNoSignature, Reason: "nope"},
		{Verifier: "cosign", Digest: "sha256:c", Verified: true, SignerSubject: "alice@example.com", SignerIssuer: "https://issuer"},
	}}}
	out := report(v, "verifier-notation", "", "")
	data, _ := json.Marshal(out)
	var got struct {
		VerifierReports []map[string]any `json:"verifierReports"`
	}
	if err := json.Unmarshal(data, &got); err != nil || len(got.VerifierReports) != 2 {
		t.Fatalf("reports: %s", data)
	}
	n, c := got.VerifierReports[0], got.VerifierReports[1]
	if n["verifierName"] != "verifier-notation" || n["type"] != "notation" {
		t.Errorf("notation report = %v", n)
	}
	want := map[string]any{"name": "cosign", "verifierName": "cosign", "type": "cosign", "verifierType": "cosign",
		"artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json", "isSuccess": true, "referenceDigest": "sha256:c",
		"message": "Verification success. Valid signatures found. Please refer to extensions field for verifications performed."}
	for k, w := range want {
		if c[k] != w {
			t.Errorf("cosign report %s = %v, want %v", k, c[k], w)
		}
	}
	ext, _ := json.Marshal(c["extensions"])
	if !strings.Contains(string(ext), `"trustPolicy":"upstream"`) || !strings.Contains(string(ext), `"signatureDigest":"sha256:c"`) || !strings.Contains(string(ext), `"bundleVerified":false,"isSuccess":true`) {
		t.Errorf("cosign extensions = %s", ext)
	}
}
