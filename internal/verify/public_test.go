package verify

import (
	"strings"
	"testing"
)

// TestPublicReason: the reasons the engine gives for failures that concern
// the trust policy's contents (texts as engine_test checks them) lose the
// trust stores, trusted identities and statement names in their public
// form, and still say which check failed and what to do; other reasons
// are kept as they are.
func TestPublicReason(t *testing.T) {
	secrets := []string{"ca:prod", "trustedIdentities", "release-only", "x509.subject", "registryScopes", `"strict"`}
	for _, tt := range []struct {
		name       string
		r          Result
		wantReason string
	}{
		{"untrusted signer", Result{Code: CodeUntrustedSigner,
			Reason:      "none of the 2 signatures of r/x@sha256:aa verified; the closest: signature by CN=builder, issued by CN=Mallory Root, does not chain to any certificate in trust store(s) ca:prod; add its root/CA certificate to the trust store or sign with a trusted key",
			Remediation: "add the signer's root or CA certificate to trust store ca:prod, or sign with a key whose certificate chains to it"},
			"not from a signer this cluster trusts"},
		{"identity", Result{Code: CodeIdentityMismatch,
			Reason:      `signer CN=builder is trusted by ca:prod but not listed in trustedIdentities of policy "release-only": x509.subject: C=US, ST=WA, O=Acme, CN=release; add "x509.subject: CN=builder" to trustedIdentities or sign with a listed identity`,
			Remediation: `add "x509.subject: CN=builder" to the trustedIdentities of trust policy statement "release-only", or sign with a listed identity`},
			"identity this cluster's trust policy does not accept"},
		{"trust store", Result{Code: CodeTrustStoreMissing,
			Reason: `trust store ca:prod named by trust policy statement "strict" has no certificates; add certificates to trust store ca:prod`},
			"trust configuration for this image is incomplete"},
		{"no statement", Result{Code: CodeNoApplicablePolicy,
			Reason: "no trust policy statement covers r/x; add it to registryScopes or add a \"*\" statement"},
			"no trust policy of this cluster covers"},
		{"skip", Result{Verified: true, Code: CodeSkipped,
			Reason: `trust policy statement "strict" skips signature verification for r/x (level skip); nothing was checked`},
			"does not require a signature"},
		{"verified", Result{Verified: true, Code: CodeVerified,
			Reason: `signature accepted under trust policy statement "strict" only because level audit logs the failed authenticity check instead of enforcing it: signer CN=x is trusted by ca:prod but not listed in trustedIdentities`},
			"signature verified"},
		{"no signature keeps its reason", Result{Code: CodeNoSignature, Reason: "no Notary Project signature found for r/x:v1; sign it with `hallmark sign` or check the registry"},
			"no Notary Project signature found for r/x:v1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reason, remediation := tt.r.PublicReason()
			for _, s := range secrets {
				if strings.Contains(reason+remediation, s) {
					t.Errorf("public reason %q / %q names %q", reason, remediation, s)
				}
			}
			if !strings.Contains(reason, tt.wantReason) {
				t.Errorf("public reason %q, want it to say %q", reason, tt.wantReason)
			}
			if !tt.r.Verified && tt.r.Code != CodeNoSignature && remediation == "" {
				t.Error("no remediation: the reader must learn what to do")
			}
			sig := SignatureResult{Code: tt.r.Code, Reason: tt.r.Reason, Remediation: tt.r.Remediation, Verified: tt.r.Verified}
			if sr, srem := sig.PublicReason(); !tt.r.Verified && (sr != reason || srem != remediation) {
				t.Errorf("signature public reason %q / %q differs from the result's %q / %q", sr, srem, reason, remediation)
			}
		})
	}
	w := Result{Warnings: []string{"authenticity check failed, but level audit only logs it: signer CN=x is trusted by ca:prod but not listed in trustedIdentities"}}.PublicWarnings()
	if len(w) != 1 || w[0] != "authenticity check failed, but level audit only logs it" {
		t.Errorf("PublicWarnings() = %q", w)
	}
}
