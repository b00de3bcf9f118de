package gatekeeper

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// TestReportHidesTrustPolicy: Gatekeeper puts the report's reasons in the
// violation the pod author reads; they say which check failed and what to
// do, without the trust policy's trust stores or trusted identities.
func TestReportHidesTrustPolicy(t *testing.T) {
	h := NewVerifyHandler(newAdmitter(&fakeVerifier{}, fakeResolver{}, admission.Policy{}), testOptions())
	body := post(t, h, providerRequestBody(untrusted+"@"+digestApp)).Body.String()
	for _, secret := range []string{"ca:prod", "trustedIdentities", "policy prod"} {
		if strings.Contains(body, secret) {
			t.Errorf("the answer names %q:\n%s", secret, body)
		}
	}
	if !strings.Contains(body, "not from a signer this cluster trusts") {
		t.Errorf("the answer does not say which check failed:\n%s", body)
	}
}

// TestCosignReportHidesTrustPolicy: a cosign signature made with a key the
// policy does not hold is reported without the policy's key names.
func TestCosignReportHidesTrustPolicy(t *testing.T) {
	rep := cosignReport(signed, "release", verify.SignatureResult{
		Digest: digestSig, Code: verify.CodeUntrustedSigner,
		Reason:      `cosign signature sha256:5555 of registry.local:5000/org/app was not made with any key of policy "release" (key:release-2026, key:release-2025)`,
		Remediation: "add the signer's public key to the policy, or sign with a key it trusts",
	})
	b, _ := json.Marshal(rep)
	if strings.Contains(string(b), "release-2026") || !strings.Contains(string(b), "not from a signer this cluster trusts") {
		t.Errorf("cosign report %s", b)
	}
}
