package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	// Register the two Notary Project envelope formats with notation-core-go:
	// verification only parses envelopes, and parsing needs the registration.
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"

	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// errStopListing ends the signature listing early: a signature verified, or
// the limit was reached.
var errStopListing = errors.New("stop listing signatures")

// listing is what listing an image's signatures found: up to
// maxSignatures manifests, whether more exist, and the error that ended the
// listing early, if any.
type listing struct {
	manifests []ocispec.Descriptor
	more      bool
	err       error
}

func (e *Engine) listSignatures(ctx context.Context, repo notationregistry.Repository, subject ocispec.Descriptor) listing {
	var l listing
	err := repo.ListSignatures(ctx, subject, func(manifests []ocispec.Descriptor) error {
		for _, m := range manifests {
			if len(l.manifests) == e.maxSignatures {
				l.more = true
				return errStopListing
			}
			l.manifests = append(l.manifests, m)
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopListing) {
		l.err = err
	}
	return l
}

// signatureFetchConcurrency bounds the envelopes of one image fetched at
// once: enough that an image whose first signatures do not verify (another
// team's key, an expired one) costs the round trips of one signature, few
// enough that an image with many signatures does not flood its registry.
const signatureFetchConcurrency = 4

// fetchedBlob is one signature envelope fetched ahead of its verification.
type fetchedBlob struct {
	blob []byte
	desc ocispec.Descriptor
	err  error
}

// verifySignatures verifies the listed signatures in the registry's order
// and stops at the first that passes, or with RequireAllSignatures at the
// first that fails. Their envelopes are fetched ahead,
// signatureFetchConcurrency at a time, in that order.
func (e *Engine) verifySignatures(ctx context.Context, r *run, repo notationregistry.Repository, l listing) Result {
	r.moreExisting = l.more
	fctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Every fetch has ended before the caller releases the repository's
	// signature budget.
	defer func() { cancel(); wg.Wait() }()
	blobs := make([]chan fetchedBlob, len(l.manifests))
	for i := range blobs {
		blobs[i] = make(chan fetchedBlob, 1)
	}
	wg.Go(func() {
		slots := make(chan struct{}, signatureFetchConcurrency)
		for i, m := range l.manifests {
			if m.Size > maxSignatureManifestSize {
				continue // refused unread by verifySignature
			}
			select {
			case slots <- struct{}{}:
			case <-fctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-slots }()
				b, d, err := repo.FetchSignatureBlob(fctx, m)
				blobs[i] <- fetchedBlob{b, d, err}
			})
		}
	})

	verified, failed := -1, -1
	for i, m := range l.manifests {
		if err := ctx.Err(); err != nil {
			break
		}
		sr := e.verifySignature(ctx, r, m, blobs[i])
		r.res.Signatures = append(r.res.Signatures, sr)
		if sr.Verified && verified < 0 {
			verified = len(r.res.Signatures) - 1
		}
		if !sr.Verified && failed < 0 {
			failed = len(r.res.Signatures) - 1
		}
		if (sr.Verified && !e.requireAll) || (!sr.Verified && e.requireAll) {
			break
		}
	}
	if e.requireAll {
		return e.allVerified(ctx, r, l, verified, failed)
	}
	if verified >= 0 {
		return r.pass(r.res.Signatures[verified])
	}
	if l.err != nil {
		return r.registryFailure(ctx, l.err, "listing signatures")
	}
	if ctx.Err() != nil {
		// Whatever the signatures said, they were cut short.
		return r.registryFailure(ctx, ctx.Err(), "verifying signatures")
	}
	if len(r.res.Signatures) == 0 {
		return r.fail(CodeNoSignature,
			fmt.Sprintf("no Notary Project signature found for %s; sign it with `hallmark sign` or check the registry", r.artifactRef),
			fmt.Sprintf("sign it with %s, or check that the registry keeps its signatures (OCI referrers API or the sha256-<digest> referrers tag)", r.signCommand()),
			false, nil)
	}
	return r.failSignatures(e.maxSignatures)
}

// allVerified completes r under RequireAllSignatures: it passes only when
// the whole listing was read, every signature in it verified, and there was
// at least one.
func (e *Engine) allVerified(ctx context.Context, r *run, l listing, verified, failed int) Result {
	switch {
	case failed >= 0:
		sig := r.res.Signatures[failed]
		return r.fail(sig.Code,
			fmt.Sprintf("signature %s of %s does not verify, and every signature must (verification.requireAllSignatures): %s", sig.Digest, r.artifactRef, sig.Reason),
			"delete the signature that does not verify, or make it verify: "+sig.Remediation,
			sig.Transient, nil)
	case l.err != nil:
		return r.registryFailure(ctx, l.err, "listing signatures")
	case ctx.Err() != nil:
		return r.registryFailure(ctx, ctx.Err(), "verifying signatures")
	case l.more:
		return r.fail(CodeSignatureUnreadable,
			fmt.Sprintf("%s has more than %d signatures, the limit, so not every signature could be verified, as verification.requireAllSignatures requires", r.artifactRef, e.maxSignatures),
			"delete stale signatures, or raise verification.maxSignatures", false, nil)
	case verified < 0:
		return r.fail(CodeNoSignature,
			fmt.Sprintf("no Notary Project signature found for %s; sign it with `hallmark sign` or check the registry", r.artifactRef),
			fmt.Sprintf("sign it with %s, or check that the registry keeps its signatures (OCI referrers API or the sha256-<digest> referrers tag)", r.signCommand()),
			false, nil)
	}
	res := r.pass(r.res.Signatures[verified])
	if n := len(r.res.Signatures); n > 1 {
		res.Reason += fmt.Sprintf("; all %d signatures verified", n)
	}
	// Checks a level only logs, on any signature, are for people to see.
	for i, sig := range r.res.Signatures {
		if i == verified {
			continue
		}
		for _, lg := range sig.logged {
			res.Warnings = append(res.Warnings, fmt.Sprintf("signature %s: %s check failed, but level %s only logs it: %s", sig.Digest, lg.check, r.level.Name, lg.reason))
		}
	}
	r.res = res
	return res
}

// verifySignature fetches and verifies one signature manifest.
func (e *Engine) verifySignature(ctx context.Context, r *run, m ocispec.Descriptor, fetched <-chan fetchedBlob) SignatureResult {
	sr := SignatureResult{Digest: m.Digest.String()}
	if m.Size > maxSignatureManifestSize {
		setFailure(&sr, CodeSignatureUnreadable,
			fmt.Sprintf("signature manifest %s declares %d bytes; hallmark reads at most %d, far above any real signature", m.Digest, m.Size, maxSignatureManifestSize),
			"delete this signature manifest from the registry", false)
		return sr
	}
	var got fetchedBlob
	select {
	case got = <-fetched:
	case <-ctx.Done():
		got.err = ctx.Err()
	}
	blob, blobDesc, err := got.blob, got.desc, got.err
	if err != nil {
		f := classifyRegistryError(ctx, err, r.ref.Registry, r.repoPath, "fetching signature "+m.Digest.String())
		if !f.transient {
			// Not the registry's passing trouble: the signature itself is
			// missing or malformed (two layers, wrong media type, ...).
			f = explanation{
				code:        CodeSignatureUnreadable,
				reason:      fmt.Sprintf("signature %s cannot be read (%s); delete it or sign the image again", m.Digest, safeDetail(err)),
				remediation: "delete the unreadable signature manifest and sign the image again",
			}
		}
		setFailure(&sr, f.code, f.reason, f.remediation, f.transient)
		return sr
	}
	sr.Format = blobDesc.MediaType
	if len(blob) > maxEnvelopeSize {
		setFailure(&sr, CodeSignatureUnreadable,
			fmt.Sprintf("signature envelope of %s is %d bytes; hallmark reads at most %d", m.Digest, len(blob), maxEnvelopeSize),
			"delete this signature from the registry", false)
		return sr
	}
	if !signatureFormatSupported(blobDesc.MediaType) {
		setFailure(&sr, CodeUnsupportedFormat,
			fmt.Sprintf("signature %s has envelope type %q; Notary Project signatures are %q (JWS) or %q (COSE)", m.Digest, blobDesc.MediaType, "application/jose+json", "application/cose"),
			"sign the image with "+r.signCommand()+" or notation", false)
		return sr
	}

	outcome, err := e.verifier.Verify(ctx, r.subject, blob, notation.VerifierVerifyOptions{
		ArtifactReference:  r.artifactRef,
		SignatureMediaType: blobDesc.MediaType,
	})
	if outcome == nil {
		// notation-go returns no outcome only when it could not start, for
		// example without an applicable policy, which verify ruled out.
		if err == nil {
			err = errors.New("notation-go returned no outcome")
		}
		setFailure(&sr, CodeError, fmt.Sprintf("signature %s could not be verified: %s", m.Digest, safeDetail(err)), "report this as a hallmark bug", false)
		return sr
	}
	describeSigner(&sr, outcome)
	sr.Validations = validations(outcome)
	if err == nil && outcome.Error == nil {
		sr.Verified = true
		sr.Code = CodeVerified
		for _, vr := range outcome.VerificationResults {
			if vr.Action == trustpolicy.ActionLog && vr.Error != nil {
				f := explainCheck(r, sr.Digest, outcome, vr)
				sr.logged = append(sr.logged, loggedFailure{check: string(vr.Type), explanation: f})
			}
		}
		return sr
	}
	if err == nil {
		err = outcome.Error
	}
	f := explainFailure(r, m, outcome, err)
	setFailure(&sr, f.code, f.reason, f.remediation, f.transient)
	return sr
}

func signatureFormatSupported(mediaType string) bool {
	return mediaType == "application/jose+json" || mediaType == "application/cose"
}

func setFailure(sr *SignatureResult, code Code, reason, remediation string, transient bool) {
	sr.Verified = false
	sr.Code = code
	sr.Reason = reason
	sr.Remediation = remediation
	sr.Transient = transient
}

// describeSigner copies what the envelope says about its signer. It is
// only there once the envelope passed integrity, so a tampered envelope
// cannot put a name in a report.
func describeSigner(sr *SignatureResult, o *notation.VerificationOutcome) {
	if o.EnvelopeContent == nil {
		return
	}
	info := o.EnvelopeContent.SignerInfo
	sr.SigningScheme = string(info.SignedAttributes.SigningScheme)
	if t := info.SignedAttributes.SigningTime; !t.IsZero() {
		t := t.UTC()
		sr.SignedAt = &t
	}
	if t := info.SignedAttributes.Expiry; !t.IsZero() {
		t := t.UTC()
		sr.ExpiresAt = &t
	}
	if len(info.CertificateChain) == 0 {
		return
	}
	leaf := info.CertificateChain[0]
	sr.SignerSubject = leaf.Subject.String()
	sr.SignerIssuer = leaf.Issuer.String()
	sr.SignerSerial = leaf.SerialNumber.Text(16)
	sum := sha256.Sum256(leaf.Raw)
	sr.Thumbprint = hex.EncodeToString(sum[:])
}

// validations lists the five checks with what the level does with each
// and what happened. notation-go records a result only for the checks it
// ran, in order, and stops at the first enforced failure; the checks it did
// not reach are reported as not checked.
func validations(o *notation.VerificationOutcome) []Validation {
	ran := map[trustpolicy.ValidationType]*notation.ValidationResult{}
	var stoppedBy trustpolicy.ValidationType
	for _, vr := range o.VerificationResults {
		ran[vr.Type] = vr
		if vr.Action == trustpolicy.ActionEnforce && vr.Error != nil && stoppedBy == "" {
			stoppedBy = vr.Type
		}
	}
	out := make([]Validation, 0, len(trustpolicy.ValidationTypes))
	for _, typ := range trustpolicy.ValidationTypes {
		action := o.VerificationLevel.Enforcement[typ]
		v := Validation{Type: string(typ), Action: actionName(action)}
		switch vr, ok := ran[typ]; {
		case ok:
			v.Checked = true
			v.Passed = vr.Error == nil
			if vr.Error != nil {
				v.Message = vr.Error.Error()
			}
		case action == trustpolicy.ActionSkip:
			v.Message = "skipped by the trust policy level"
		case stoppedBy != "":
			v.Message = fmt.Sprintf("not checked: the enforced %s check failed first", stoppedBy)
		default:
			v.Message = "not checked: verification stopped before this check"
		}
		out = append(out, v)
	}
	return out
}

func actionName(a trustpolicy.ValidationAction) string {
	switch a {
	case trustpolicy.ActionEnforce:
		return ActionEnforced
	case trustpolicy.ActionLog:
		return ActionLogged
	default:
		return ActionSkipped
	}
}
