package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	// Register the two Notary Project envelope formats with notation-core-go:
	// verification only parses envelopes, and parsing needs the registration.
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"

	"oras.land/oras-go/v2/registry"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// pass completes r with the signature that verified. Checks that failed
// but are only logged by the level become warnings: under audit, an image
// from an untrusted signer passes, and people must be able to see that.
func (r *run) pass(sig SignatureResult) Result {
	r.res.Verified = true
	r.res.Code = CodeVerified
	r.res.Transient = false
	by := sig.SignerSubject
	if sig.SignerIssuer != "" && sig.SignerIssuer != sig.SignerSubject {
		by += ", issued by " + sig.SignerIssuer
	}
	r.res.Reason = fmt.Sprintf("signature by %s verified under trust policy statement %q (level %s)", by, r.statement.Name, r.level.Name)
	for _, l := range sig.logged {
		r.res.Warnings = append(r.res.Warnings, fmt.Sprintf("%s check failed, but level %s only logs it: %s", l.check, r.level.Name, l.reason))
	}
	if len(sig.logged) > 0 {
		first := sig.logged[0]
		r.res.Reason = fmt.Sprintf("signature accepted under trust policy statement %q only because level %s logs the failed %s check instead of enforcing it: %s",
			r.statement.Name, r.level.Name, first.check, first.reason)
		r.res.Remediation = first.remediation
	}
	return r.res
}

// fail completes r as not verified.
func (r *run) fail(code Code, reason, remediation string, transient bool, cause error) Result {
	r.res.Verified = false
	r.res.Code = code
	r.res.Reason = reason
	r.res.Remediation = remediation
	r.res.Transient = transient
	r.res.cause = cause
	return r.res
}

// failSignatures completes r when signatures exist and none verified. The
// reason is the one of the signature that got furthest, since that is the
// one closest to passing and usually the one the signer meant.
func (r *run) failSignatures(limit int) Result {
	best := 0
	transient := false
	for i, s := range r.res.Signatures {
		if stage(s.Code) > stage(r.res.Signatures[best].Code) {
			best = i
		}
		transient = transient || s.Transient
	}
	b := r.res.Signatures[best]
	reason, remediation := b.Reason, b.Remediation
	n := len(r.res.Signatures)
	switch {
	case r.moreExisting:
		reason = fmt.Sprintf("none of the first %d signatures of %s verified (more exist beyond the limit of %d); the closest: %s", n, r.artifactRef, limit, reason)
		remediation += "; also delete stale signatures, or raise the signature limit"
	case n > 1:
		reason = fmt.Sprintf("none of the %d signatures of %s verified; the closest: %s", n, r.artifactRef, reason)
	}
	return r.fail(b.Code, reason, remediation, transient, nil)
}

// stage orders failure codes by how far verification got, so the most
// informative signature explains the result.
func stage(c Code) int {
	switch c {
	case CodeIntegrity, CodeInvalidCertificateChain:
		return 2
	case CodePluginRequired:
		return 3
	case CodeUntrustedSigner:
		return 4
	case CodeIdentityMismatch:
		return 5
	case CodeSignatureExpired:
		return 6
	case CodeCertificateExpired, CodeCertificateNotYetValid, CodeTimestampInvalid:
		return 7
	case CodeCertificateRevoked, CodeRevocationUnknown:
		return 8
	case CodeDigestMismatch:
		return 9
	case CodeUnsupportedFormat:
		return 1
	}
	return 0
}

// registryFailure completes r with a registry error.
// keyFlag is what a printed sign command adds to name its key.
func keyFlag(o EngineOptions) string {
	if o.DefaultSignKey {
		return ""
	}
	return " --key KEY"
}

// signCommand is the command that signs this image, as it can be pasted:
// it runs as printed with a default key, else KEY is the one word to
// replace.
func (r *run) signCommand() string {
	return "`hallmark sign " + r.imageName() + r.keyFlag + r.flags + "`"
}

// inspectCommand is the command that shows this image's signatures.
func (r *run) inspectCommand() string {
	return "`hallmark inspect " + r.imageName() + r.flags + "`"
}

// imageName is the image by digest once resolved, else as referenced.
func (r *run) imageName() string {
	if r.artifactRef != "" {
		return r.artifactRef
	}
	return r.res.Reference
}

func (r *run) registryFailure(ctx context.Context, err error, what string) Result {
	f := classifyRegistryError(ctx, err, r.ref.Registry, r.repoPath, what)
	if f.code == CodeRegistryAccess && r.flags != "" {
		f.remediation = strings.Replace(f.remediation, "`hallmark login "+r.ref.Registry+"`", "`hallmark login "+r.ref.Registry+r.flags+"`", 1)
	}
	// Before the subject was resolved, the registry never answered: a
	// deadline then says as much about it as a refused connection.
	if !r.explain && unreachable(ctx, err, r.subject.Digest == "") {
		f = unreachableExplanation(r.ref.Registry, what)
	}
	return r.fail(f.code, f.reason, f.remediation, f.transient, err)
}

// parseImageReference parses ref as REGISTRY/REPOSITORY(:TAG|@DIGEST) with
// oci.ParseReference, the one image-reference grammar (length cap, a tag
// next to a digest checked, the registry in canonical form), and explains
// what is wrong with it, or returns "".
func parseImageReference(ref string) (registry.Reference, string) {
	r, err := oci.ParseReference(ref)
	if errors.Is(err, oci.ErrNoRegistry) {
		// Said here with Docker Hub's full name, the registry a short
		// name most often means.
		return registry.Reference{}, fmt.Sprintf("image reference %q names no registry; write it in full, e.g. docker.io/library/nginx:1.27 or registry.example.com/team/app:v1", ref)
	}
	if err != nil {
		return registry.Reference{}, err.Error()
	}
	if r.Reference == "" {
		return registry.Reference{}, fmt.Sprintf("image reference %q has neither a tag nor a digest; add one (a container runtime would pull :latest)", ref)
	}
	return r, ""
}
