package verify

import "strings"

// Reason and Remediation are written for the people who run the trust
// policy: to make a failure actionable they name its statements, trust
// stores and trusted identities. Someone who only creates workloads (the
// reader of an admission denial, of a Gatekeeper violation) learns from
// them which signers and identities the cluster trusts, which is the
// administrators' business. The public forms below say which check failed
// and what to do instead; the full text stays in the server's log and in
// `hallmark verify`.

// Public texts of the failures whose reasons name the trust policy.
const (
	publicAskAdmins = "ask the cluster's administrators which signers it trusts (hallmark's server log has the details)"

	publicUntrusted   = "the signature is not from a signer this cluster trusts"
	publicIdentity    = "the signature is from a signer whose identity this cluster's trust policy does not accept"
	publicStore       = "the cluster's trust configuration for this image is incomplete"
	publicNoPolicy    = "no trust policy of this cluster covers this image's repository"
	publicSignRemedy  = "sign the image with a key this cluster trusts, and " + publicAskAdmins
	publicAdminRemedy = "ask the cluster's administrators to complete it (hallmark's server log names what is missing)"
	publicScopeRemedy = "use a repository this cluster's trust policy covers, or ask its administrators to add it"
	publicVerified    = "signature verified"
	publicSkipped     = "this cluster's trust policy does not require a signature for this image's repository"
)

// PublicReason returns Reason and Remediation as they may be shown to
// anyone: unchanged for failures that do not concern the trust policy's
// contents (no signature, an expired certificate, a registry error, ...),
// and for the others a sentence saying which check failed and what to do,
// without trust store names, trusted identities or statement names.
func (r Result) PublicReason() (reason, remediation string) {
	if r.Verified {
		if r.Code == CodeSkipped {
			return publicSkipped, ""
		}
		return publicVerified, ""
	}
	return publicReason(r.Code, r.Reason, r.Remediation)
}

// PublicReason is Result.PublicReason for one signature.
func (s SignatureResult) PublicReason() (reason, remediation string) {
	if s.Verified {
		return publicVerified, ""
	}
	return publicReason(s.Code, s.Reason, s.Remediation)
}

// PublicWarnings returns Warnings as they may be shown to anyone: a check
// that failed but that the level only logs is named, without the failure's
// details, which may name trust stores and trusted identities.
func (r Result) PublicWarnings() []string {
	if len(r.Warnings) == 0 {
		return nil
	}
	out := make([]string, len(r.Warnings))
	for i, w := range r.Warnings {
		// "CHECK check failed, but level L only logs it: DETAIL"
		if head, _, ok := strings.Cut(w, " only logs it: "); ok {
			out[i] = head + " only logs it"
			continue
		}
		out[i] = w
	}
	return out
}

func publicReason(code Code, reason, remediation string) (string, string) {
	switch code {
	case CodeUntrustedSigner:
		return publicUntrusted, publicSignRemedy
	case CodeIdentityMismatch:
		return publicIdentity, publicSignRemedy
	case CodeTrustStoreMissing:
		return publicStore, publicAdminRemedy
	case CodeNoApplicablePolicy:
		return publicNoPolicy, publicScopeRemedy
	}
	return reason, remediation
}
