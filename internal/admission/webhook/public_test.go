package webhook

import (
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// TestDenialHidesTrustPolicy: what a pod author reads in a denial, a
// warning or an audit annotation says which check failed and what to do,
// but not the trust policy's trust stores or trusted identities, which
// stay in the server's log and `hallmark verify`.
func TestDenialHidesTrustPolicy(t *testing.T) {
	for _, mode := range []admission.Mode{admission.ModeDeny, admission.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			h := NewValidateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, admission.Policy{Mode: mode}, admission.Options{}), Options{})
			rec := post(t, h, "/validate", reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", pod(untrusted)))
			body := rec.Body.String()
			for _, secret := range []string{"ca:prod", "trustedIdentities", "policy prod"} {
				if strings.Contains(body, secret) {
					t.Errorf("the answer names %q:\n%s", secret, body)
				}
			}
			if !strings.Contains(body, untrusted) || !strings.Contains(body, "not from a signer this cluster trusts") {
				t.Errorf("the answer does not say which image failed which check:\n%s", body)
			}
		})
	}
}
