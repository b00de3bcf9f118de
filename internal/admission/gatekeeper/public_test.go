package gatekeeper

import (
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
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
