package verify

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"

	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
)

// explanation is a failure put into words.
type explanation struct {
	code        Code
	reason      string
	remediation string
	transient   bool
}

// explainFailure turns a failed notation-go outcome into a reason. The
// first enforced failure decides; when no check failed, the failure came
// after the checks (the signed descriptor does not match) or before them (a
// verification plugin is required).
func explainFailure(r *run, m ocispec.Descriptor, o *notation.VerificationOutcome, err error) explanation {
	for _, vr := range o.VerificationResults {
		if vr.Action == trustpolicy.ActionEnforce && vr.Error != nil {
			return explainCheck(r, m.Digest.String(), o, vr)
		}
	}
	if o.EnvelopeContent != nil {
		if name := pluginName(&o.EnvelopeContent.SignerInfo); name != "" {
			return explanation{
				code:        CodePluginRequired,
				reason:      fmt.Sprintf("signature %s requires verification plugin %q, which hallmark does not run", m.Digest, name),
				remediation: "sign the image without a verification plugin requirement, or verify this image with notation and the plugin",
			}
		}
		if signed, ok := signedDescriptor(o); ok && !content.Equal(signed, r.subject) {
			return explanation{
				code: CodeDigestMismatch,
				reason: fmt.Sprintf("signature %s was made for %s (%d bytes), not for %s; it was copied from another image, so sign this image",
					m.Digest, signed.Digest, signed.Size, r.artifactRef),
				remediation: fmt.Sprintf("sign %s itself with %s, and delete the copied signature", r.artifactRef, r.signCommand()),
			}
		}
	}
	return explanation{
		code:        CodeError,
		reason:      fmt.Sprintf("signature %s could not be verified: %s", m.Digest, safeDetail(err)),
		remediation: "check the signature with " + r.inspectCommand() + ", and sign the image again",
	}
}

// explainCheck explains one failed check, enforced or logged.
func explainCheck(r *run, sigDigest string, o *notation.VerificationOutcome, vr *notation.ValidationResult) explanation {
	var chain []*x509.Certificate
	var scheme signature.SigningScheme
	if o.EnvelopeContent != nil {
		chain = o.EnvelopeContent.SignerInfo.CertificateChain
		scheme = o.EnvelopeContent.SignerInfo.SignedAttributes.SigningScheme
	}
	detail := vr.Error.Error()
	switch vr.Type {
	case trustpolicy.TypeIntegrity:
		var invalid *signature.InvalidSignatureError
		if errors.As(vr.Error, &invalid) && strings.Contains(invalid.Msg, "certificate-chain is invalid") {
			return explanation{
				code:        CodeInvalidCertificateChain,
				reason:      fmt.Sprintf("signature %s carries a certificate chain that breaks the Notary Project certificate rules (%s); sign again with a valid code-signing certificate", sigDigest, detail),
				remediation: "sign again with a certificate that has the digitalSignature key usage, no serverAuth/clientAuth usage, and a chain ending in a CA root",
			}
		}
		return explanation{
			code:        CodeIntegrity,
			reason:      fmt.Sprintf("signature %s failed the integrity check: the envelope was modified after signing or is corrupted (%s); delete it and sign the image again", sigDigest, detail),
			remediation: "delete the damaged signature and sign the image again with " + r.signCommand(),
		}

	case trustpolicy.TypeAuthenticity:
		return explainAuthenticity(r, chain, scheme, detail)

	case trustpolicy.TypeExpiry:
		expiry := "its expiry time"
		if o.EnvelopeContent != nil {
			expiry = o.EnvelopeContent.SignerInfo.SignedAttributes.Expiry.UTC().Format(time.RFC3339)
		}
		return explanation{
			code:        CodeSignatureExpired,
			reason:      fmt.Sprintf("signature expired at %s; sign the image again", expiry),
			remediation: "sign the image again with " + r.signCommand() + ", with an expiry long enough for how long the image must run (--expiry)",
		}

	case trustpolicy.TypeAuthenticTimestamp:
		now := time.Now()
		for _, c := range chain {
			if now.After(c.NotAfter) {
				return explanation{
					code: CodeCertificateExpired,
					reason: fmt.Sprintf("certificate %s in the signature's chain expired at %s; without a trusted timestamp a signature is valid only while its certificates are, so sign the image again with a current certificate",
						c.Subject, c.NotAfter.UTC().Format(time.RFC3339)),
					remediation: "sign the image again with a current certificate (rotate the key if its certificate expired), or timestamp signatures with a TSA and add a tsa: store to the trust policy so they outlive their certificates",
				}
			}
			if now.Before(c.NotBefore) {
				return explanation{
					code:        CodeCertificateNotYetValid,
					reason:      fmt.Sprintf("certificate %s in the signature's chain is not valid before %s; check the clock of this host and of the signer", c.Subject, c.NotBefore.UTC().Format(time.RFC3339)),
					remediation: "check the clocks of this host and of the signing host",
				}
			}
		}
		return explanation{
			code:        CodeTimestampInvalid,
			reason:      fmt.Sprintf("the signature's timestamp could not be verified (%s); sign the image again with a timestamp from a TSA whose root is in the policy's tsa: store", detail),
			remediation: "add the TSA's root certificate to the tsa: trust store named by the policy, or sign again with a trusted TSA",
		}

	case trustpolicy.TypeRevocation:
		if strings.Contains(detail, "is revoked") {
			return explanation{
				code:        CodeCertificateRevoked,
				reason:      fmt.Sprintf("a certificate of the signature's chain is revoked (%s); sign with a certificate that is not revoked", detail),
				remediation: "sign the image again with a key whose certificate is not revoked",
			}
		}
		return explanation{
			code:        CodeRevocationUnknown,
			reason:      fmt.Sprintf("the revocation status of the signature's certificates could not be determined (%s); retry, or make the OCSP/CRL endpoints reachable from here", detail),
			remediation: "make the certificates' OCSP and CRL endpoints reachable from here, or set signatureVerification.override.revocation to \"log\"",
			transient:   true,
		}
	}
	return explanation{code: CodeError, reason: fmt.Sprintf("%s check failed: %s", vr.Type, detail), remediation: "sign the image again"}
}

// explainAuthenticity tells an unknown signer (its chain matches no trusted
// certificate) from a known signer that trustedIdentities does not list.
// notation-go reports both as one authenticity failure.
func explainAuthenticity(r *run, chain []*x509.Certificate, scheme signature.SigningScheme, detail string) explanation {
	storeType := truststore.TypeCA
	if scheme == signature.SigningSchemeX509SigningAuthority {
		storeType = truststore.TypeSigningAuthority
	}
	var storesOfType, trustedBy []string
	for _, s := range r.statement.TrustStores {
		typ, _, _ := tpolicy.ParseStoreRef(s)
		if typ != storeType {
			continue
		}
		storesOfType = append(storesOfType, s)
		for _, c := range chain {
			if slices.ContainsFunc(r.trusted[s], c.Equal) {
				trustedBy = append(trustedBy, s)
				break
			}
		}
	}
	signer, issuer := "an unknown signer", "an unknown issuer"
	if len(chain) > 0 {
		signer, issuer = chain[0].Subject.String(), chain[0].Issuer.String()
	}
	switch {
	case len(chain) == 0:
		return explanation{code: CodeUntrustedSigner, reason: fmt.Sprintf("the signer could not be authenticated (%s)", detail), remediation: "sign the image with a trusted key"}
	case len(storesOfType) == 0:
		return explanation{
			code: CodeUntrustedSigner,
			reason: fmt.Sprintf("signature by %s uses signing scheme %s, which needs a %s trust store, but trust policy statement %q lists none; add one to its trustStores",
				signer, scheme, storeType, r.statement.Name),
			remediation: fmt.Sprintf("add a %s:NAME trust store holding the signer's root certificate to trust policy statement %q", storeType, r.statement.Name),
		}
	case len(trustedBy) == 0:
		return explanation{
			code: CodeUntrustedSigner,
			reason: fmt.Sprintf("signature by %s, issued by %s, does not chain to any certificate in trust store(s) %s; add its root/CA certificate to the trust store or sign with a trusted key",
				signer, issuer, strings.Join(storesOfType, ", ")),
			remediation: fmt.Sprintf("add the signer's root or CA certificate to trust store %s, or sign with a key whose certificate chains to it", storesOfType[0]),
		}
	}
	return explanation{
		code: CodeIdentityMismatch,
		reason: fmt.Sprintf("signer %s is trusted by %s but not listed in trustedIdentities of policy %q: %s; add \"x509.subject: %s\" to trustedIdentities or sign with a listed identity",
			signer, strings.Join(trustedBy, ", "), r.statement.Name, strings.Join(r.statement.TrustedIdentities, "; "), signer),
		remediation: fmt.Sprintf("add \"x509.subject: %s\" to the trustedIdentities of trust policy statement %q, or sign with a listed identity", signer, r.statement.Name),
	}
}

const verificationPluginHeader = "io.cncf.notary.verificationPlugin"

// signedDescriptor returns the artifact descriptor the signature's payload
// names.
func signedDescriptor(o *notation.VerificationOutcome) (ocispec.Descriptor, bool) {
	var payload struct {
		TargetArtifact ocispec.Descriptor `json:"targetArtifact"`
	}
	if err := json.Unmarshal(o.EnvelopeContent.Payload.Content, &payload); err != nil {
		return ocispec.Descriptor{}, false
	}
	return payload.TargetArtifact, true
}

func pluginName(info *signature.SignerInfo) string {
	attr, err := info.ExtendedAttribute(verificationPluginHeader)
	if err != nil {
		return ""
	}
	name, _ := attr.Value.(string)
	if name == "" {
		name = fmt.Sprint(attr.Value)
	}
	return name
}
