package gatekeeper

import (
	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Ratify v1's verification result, the value of each verify item, as its
// config policy provider writes it (version 0.2.0, the default policy
// provider's format; the rego provider's 1.x format nests reports instead).
const (
	resultVersion        = "0.2.0"
	artifactTypeNotation = "application/vnd.cncf.notary.signature"
	verifierTypeNotation = "notation"
	// messageVerified is Ratify's message for a signature that passed;
	// users grep logs and reports for it, so it is kept word for word.
	messageVerified = "Notation signature verification success"
	messageFailed   = "Notation signature verification failed"

	// Ratify v1's cosign verifier, as its Helm chart names it: the
	// verifier's name and type are both "cosign", and its messages are
	// these, word for word.
	verifierCosign       = "cosign"
	artifactTypeCosign   = "application/vnd.dev.cosign.artifact.sig.v1+json"
	messageCosignSuccess = "Verification success. Valid signatures found. Please refer to extensions field for verifications performed."
	messageCosignFailed  = "no valid Cosign signatures found"
)

// verificationResponse is the value of one verify item. Field order and
// tags follow Ratify v1's VerificationResponse.
type verificationResponse struct {
	Version         string           `json:"version"`
	IsSuccess       bool             `json:"isSuccess"`
	TraceID         string           `json:"traceID,omitempty"`
	Timestamp       string           `json:"timestamp,omitempty"`
	VerifierReports []verifierReport `json:"verifierReports,omitempty"`
}

// verifierReport is one report of a 0.x result. name and type are the
// deprecated spellings of verifierName and verifierType that Ratify still
// writes alongside them; constraints written for either keep working.
type verifierReport struct {
	Subject         string `json:"subject,omitempty"`
	IsSuccess       bool   `json:"isSuccess"`
	Name            string `json:"name,omitempty"`
	VerifierName    string `json:"verifierName,omitempty"`
	Type            string `json:"type,omitempty"`
	VerifierType    string `json:"verifierType,omitempty"`
	ReferenceDigest string `json:"referenceDigest,omitempty"`
	ArtifactType    string `json:"artifactType,omitempty"`
	Message         string `json:"message,omitempty"`
	ErrorReason     string `json:"errorReason,omitempty"`
	Remediation     string `json:"remediation,omitempty"`
	// Extensions is *extensions for a Notary Project signature and
	// *cosignExtensions for a cosign one; nil is left out.
	Extensions    any              `json:"extensions,omitempty"`
	NestedResults []verifierReport `json:"nestedResults,omitempty"`
}

// extensions are the Notation verifier's extensions in Ratify's report: the
// signing certificate's issuer and subject (which Ratify names "SN"). A
// struct rather than a map, which encoding/json would sort on every answer;
// the fields are in that sorted order.
type extensions struct {
	Issuer string `json:"Issuer"`
	SN     string `json:"SN"`
}

// cosignExtensions are Ratify's cosign verifier's extensions: per signature,
// the verifications made of it, and the trust policy applied.
type cosignExtensions struct {
	Signatures  []cosignSignature `json:"signatures,omitempty"`
	TrustPolicy string            `json:"trustPolicy,omitempty"`
}

type cosignSignature struct {
	Signature     string               `json:"signature"`
	Verifications []cosignVerification `json:"verifications"`
}

// cosignVerification is one check of a signature. bundleVerified says, as
// in Ratify, whether a transparency-log proof was verified; hallmark says
// it for signatures whose policy required one.
type cosignVerification struct {
	SignatureDigest string   `json:"signatureDigest,omitempty"`
	IsSuccess       bool     `json:"isSuccess"`
	BundleVerified  bool     `json:"bundleVerified"`
	Error           string   `json:"error,omitempty"`
	Summary         []string `json:"summary,omitempty"`
}

// cosignReport is Ratify's cosign verifier report for one signature.
func cosignReport(subject, policy string, s verify.SignatureResult) verifierReport {
	rep := verifierReport{
		Subject:         subject,
		IsSuccess:       s.Verified,
		Name:            verifierCosign,
		VerifierName:    verifierCosign,
		Type:            verifierCosign,
		VerifierType:    verifierCosign,
		ReferenceDigest: s.Digest,
		ArtifactType:    artifactTypeCosign,
		Message:         messageCosignSuccess,
	}
	v := cosignVerification{SignatureDigest: s.Digest, IsSuccess: s.Verified}
	if s.SignerSubject != "" {
		v.Summary = []string{"signer: " + s.SignerSubject}
		if s.SignerIssuer != "" {
			v.Summary = append(v.Summary, "issuer: "+s.SignerIssuer)
		}
	}
	if !s.Verified {
		rep.Message = messageCosignFailed
		// Shown to the pod author: which check failed, not the policy's
		// keys or identities.
		rep.ErrorReason, rep.Remediation = s.PublicReason()
		v.Error = rep.ErrorReason
	}
	rep.Extensions = &cosignExtensions{
		Signatures:  []cosignSignature{{Signature: s.Digest, Verifications: []cosignVerification{v}}},
		TrustPolicy: policy,
	}
	return rep
}

// report encodes one image verdict as Ratify would: isSuccess is the
// verdict (the constraint decides what a failure means, so audit and deny
// mode encode the same), with a report per signature examined, or a single
// report saying why the image was not verified or not checked.
func report(v admission.ImageVerdict, verifierName, traceID, timestamp string) verificationResponse {
	out := verificationResponse{
		Version:   resultVersion,
		IsSuccess: v.Allowed(),
		TraceID:   traceID,
		Timestamp: timestamp,
	}
	if v.Skipped != "" {
		out.VerifierReports = []verifierReport{{
			Subject:   v.Image,
			IsSuccess: true,
			Message:   "allowed without verification by hallmark's admission policy: " + v.Skipped,
		}}
		return out
	}
	r := v.Result
	// Ratify names the image as the request gave it (a tag stays a tag); the
	// digest that was verified is in the log record of the verdict.
	subject := v.Image
	for _, s := range r.Signatures {
		if s.Verifier == verifierCosign {
			out.VerifierReports = append(out.VerifierReports, cosignReport(subject, r.Policy, s))
			continue
		}
		rep := verifierReport{
			Subject:         subject,
			IsSuccess:       s.Verified,
			Name:            verifierName,
			VerifierName:    verifierName,
			Type:            verifierTypeNotation,
			VerifierType:    verifierTypeNotation,
			ReferenceDigest: s.Digest,
			ArtifactType:    artifactTypeNotation,
			Message:         messageVerified,
		}
		if !s.Verified {
			rep.Message = messageFailed
			// The constraint shows these to the pod author: say which
			// check failed, not what the trust policy holds.
			rep.ErrorReason, rep.Remediation = s.PublicReason()
		}
		if s.SignerSubject != "" {
			// Ratify names the signing certificate's subject "SN".
			rep.Extensions = &extensions{Issuer: s.SignerIssuer, SN: s.SignerSubject}
		}
		out.VerifierReports = append(out.VerifierReports, rep)
	}
	if len(r.Signatures) > 0 {
		return out
	}
	// No signature was examined: the policy skips verification, or the
	// image failed before its signatures were read (no signature, registry
	// error, deadline, ...).
	rep := verifierReport{Subject: subject, IsSuccess: r.Verified}
	if r.Verified {
		rep.Name, rep.VerifierName = verifierName, verifierName
		rep.Type, rep.VerifierType = verifierTypeNotation, verifierTypeNotation
		rep.Message, _ = r.PublicReason()
	} else {
		rep.Message = "image " + v.Image + " was not verified"
		rep.ErrorReason = v.PublicReason()
		_, rep.Remediation = r.PublicReason()
	}
	out.VerifierReports = []verifierReport{rep}
	return out
}
