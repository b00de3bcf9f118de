package cosign

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// VerifierName is the name cosign signatures are reported under: in
// SignatureResult.Verifier and as the Gatekeeper verifierReports name, as
// Ratify's cosign verifier reports them.
const VerifierName = "cosign"

// Signing schemes reported in verify.SignatureResult.SigningScheme.
const (
	SchemeKey     = "sigstore.key"
	SchemeKeyless = "sigstore.keyless"
)

// bundleArtifactPrefix starts the media type of every Sigstore bundle
// version (application/vnd.dev.sigstore.bundle.v0.3+json, ...).
const bundleArtifactPrefix = "application/vnd.dev.sigstore.bundle"

// cosignSignPredicate is the in-toto predicate type of a bundle made by
// cosign sign: a signature over the image, not an attestation about it.
const cosignSignPredicate = "https://sigstore.dev/cosign/sign/v1"

// emptyArtifactType is what cosign writes as the artifact type of a
// bundle's entry in the referrers tag index; the manifest says the rest.
const emptyArtifactType = "application/vnd.oci.empty.v1+json"

// Size caps for what is read from the registry.
const (
	// maxManifestBytes caps a .sig manifest or a bundle manifest: one layer
	// per signature with its annotations (certificate, Rekor bundle) is a
	// few KiB each.
	maxManifestBytes = 4 << 20
	// MaxBundleBytes caps a Sigstore bundle: a certificate, a Rekor entry
	// with inclusion proof and a DSSE envelope are a few KiB.
	MaxBundleBytes = 1 << 20
	// DefaultMaxSignatures is how many cosign signatures of one image are
	// tried, as for Notary Project signatures.
	DefaultMaxSignatures = verify.DefaultMaxSignatures
)

// Registry is what verification needs of a registry; *oci.Client has it.
type Registry interface {
	Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error)
	// FetchTagged reads the manifest a tag names in one request; a
	// missing tag is an answer (ErrNotFound), not worth a request to
	// explain.
	FetchTagged(ctx context.Context, ref string, limit int64) (ocispec.Descriptor, []byte, error)
	Referrers(ctx context.Context, ref string, subject ocispec.Descriptor, artifactType string) ([]ocispec.Descriptor, error)
	FetchManifest(ctx context.Context, ref string, desc ocispec.Descriptor, limit int64) ([]byte, error)
	FetchBlob(ctx context.Context, ref string, desc ocispec.Descriptor, limit int64) ([]byte, error)
}

var _ Registry = (*oci.Client)(nil)

// Verifier verifies cosign signatures of images against policies chosen by
// registry scope. It is safe for concurrent use; build a new one when the
// policies change.
type Verifier struct {
	policies []Policy
	reg      Registry
	max      int
	now      func() time.Time
}

// Options tunes a Verifier. The zero value is ready to use.
type Options struct {
	// MaxSignatures is how many signatures of one image are tried. Zero:
	// DefaultMaxSignatures.
	MaxSignatures int
}

// NewVerifier checks every policy and builds a Verifier. Two policies may
// not name the same scope.
func NewVerifier(policies []Policy, reg Registry, opts Options) (*Verifier, error) {
	if reg == nil {
		return nil, errors.New("cosign: NewVerifier needs a Registry")
	}
	var errs []error
	seen := map[string]string{}
	for i := range policies {
		if err := policies[i].Validate(); err != nil {
			errs = append(errs, err)
		}
		for _, s := range policies[i].Scopes {
			if other, ok := seen[s]; ok {
				errs = append(errs, fmt.Errorf("%w: scope %q is in policies %s and %s; give each scope one policy", ErrInvalidPolicy, s, other, policies[i].Name))
			}
			seen[s] = policies[i].Name
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.MaxSignatures <= 0 {
		opts.MaxSignatures = DefaultMaxSignatures
	}
	return &Verifier{policies: append([]Policy(nil), policies...), reg: reg, max: opts.MaxSignatures, now: time.Now}, nil
}

// Covers reports whether a policy covers the repository registry/repository.
func (v *Verifier) Covers(repoPath string) bool { return v.policyFor(repoPath) != nil }

func (v *Verifier) policyFor(repoPath string) *Policy {
	var best *Policy
	bestScore := 0
	for i := range v.policies {
		if s := v.policies[i].covers(repoPath); s > bestScore {
			best, bestScore = &v.policies[i], s
		}
	}
	return best
}

// Verify verifies the cosign signatures of the image ref (registry,
// repository and a tag or digest). The image is verified when one
// signature passes the policy covering its repository. Like the Notary
// Project engine, Verify never fails: every problem is a Result that is
// not Verified and says why.
func (v *Verifier) Verify(ctx context.Context, ref string) verify.Result {
	return v.VerifySubject(ctx, ref, nil)
}

// VerifySubject is Verify for a caller that may already hold the image's
// manifest descriptor, or wants the one this verification reads (see
// verify.SubjectVerifier).
func (v *Verifier) VerifySubject(ctx context.Context, ref string, subject *ocispec.Descriptor) verify.Result {
	start := time.Now()
	res := v.verify(ctx, ref, subject)
	res.Duration = time.Since(start)
	return res
}

var _ verify.SubjectVerifier = (*Verifier)(nil)

func (v *Verifier) verify(ctx context.Context, ref string, known *ocispec.Descriptor) verify.Result {
	res := verify.Result{Reference: ref}
	r, err := oci.ParseReference(ref)
	if err != nil || r.Reference == "" {
		return verify.Failed(res, verify.CodeInvalidReference,
			fmt.Sprintf("%q is not a full image reference", ref),
			"write the reference in full, e.g. registry.example.com/team/app:v1 or …/app@sha256:…", false, err)
	}
	repoPath := r.Registry + "/" + r.Repository
	if strings.HasPrefix(r.Reference, "sha256:") {
		res.Digest = r.Reference
	} else {
		res.Tag = r.Reference
	}
	p := v.policyFor(repoPath)
	if p == nil {
		return verify.Failed(res, verify.CodeNoApplicablePolicy,
			fmt.Sprintf("no cosign policy covers %s; add it to a policy's scopes or add a \"*\" scope", repoPath),
			fmt.Sprintf("add %q to the scopes of a cosign policy", repoPath), false, nil)
	}
	res.Policy = p.Name

	var (
		subject ocispec.Descriptor
		cands   []candidate
	)
	// resolve reads the image's manifest descriptor; a failure is the
	// verdict.
	resolve := func() (failed verify.Result, ok bool) {
		d, err := v.reg.Resolve(ctx, ref)
		if err != nil {
			what := "resolving tag " + r.Reference
			if res.Digest != "" {
				what = "reading manifest " + r.Reference
			}
			return verify.RegistryFailed(ctx, res, err, r.Registry, repoPath, what), false
		}
		subject = d
		if known != nil {
			*known = d
		}
		return verify.Result{}, true
	}
	switch {
	case known != nil && known.Digest != "":
		// The registry already answered for ref: not asked again. The
		// signatures must still cover this digest.
		if known.Digest.Validate() != nil || res.Digest != "" && known.Digest.String() != res.Digest {
			return verify.Failed(res, verify.CodeError,
				fmt.Sprintf("hallmark was handed manifest %s to verify %s; this is a hallmark bug", known.Digest, ref),
				"report this as a hallmark bug", false, nil)
		}
		subject = *known
		cands, err = v.discover(ctx, repoPath, subject.Digest)
	case res.Digest != "":
		// A digest names the signatures before the manifest is read: the
		// read, which shows the image is there, goes beside the discovery
		// instead of a round trip before it. Its failure still decides.
		var (
			wg     sync.WaitGroup
			failed verify.Result
			ok     bool
		)
		wg.Go(func() { failed, ok = resolve() })
		cands, err = v.discover(ctx, repoPath, digest.Digest(res.Digest))
		wg.Wait()
		if !ok {
			return failed
		}
	default:
		if failed, ok := resolve(); !ok {
			return failed
		}
		cands, err = v.discover(ctx, repoPath, subject.Digest)
	}
	res.Digest = subject.Digest.String()
	repoRef := repoPath + "@" + res.Digest
	if err != nil {
		return verify.RegistryFailed(ctx, res, err, r.Registry, repoPath, "listing cosign signatures of "+res.Digest)
	}
	if len(cands) == 0 {
		return verify.Failed(res, verify.CodeNoSignature,
			fmt.Sprintf("%s has no cosign signature (no %s tag and no Sigstore bundle referrer); sign it with cosign, or require another signature kind for %s", repoRef, sigTag(subject.Digest), repoPath),
			"sign the image with cosign sign", false, nil)
	}
	for i, c := range cands {
		if i == v.max {
			break
		}
		sr := v.check(ctx, p, repoRef, subject, c)
		res.Signatures = append(res.Signatures, sr)
		if sr.Verified {
			res.Verified = true
			res.Code = verify.CodeVerified
			res.Reason = fmt.Sprintf("cosign signature %s by %s passed policy %q", short(sr.Digest), sr.SignerSubject, p.Name)
			return res
		}
		if sr.Transient {
			// A registry failure on one signature must not be read as
			// "no valid signature": the verdict is not definitive.
			return verify.Failed(res, sr.Code, sr.Reason, sr.Remediation, true, nil)
		}
	}
	first := res.Signatures[0]
	reason := first.Reason
	if len(res.Signatures) > 1 {
		reason = fmt.Sprintf("none of the %d cosign signatures of %s passed policy %q; the first: %s", len(res.Signatures), repoRef, p.Name, first.Reason)
	}
	return verify.Failed(res, first.Code, reason, first.Remediation, false, nil)
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func sigTag(d digest.Digest) string {
	return strings.Replace(d.String(), ":", "-", 1) + ".sig"
}

// candidate is one signature found in the registry.
type candidate struct {
	digest string // layer digest (simple signing) or manifest digest (bundle)
	format string
	layer  ocispec.Descriptor // simple signing: the payload layer
	bundle ocispec.Descriptor // bundle: the manifest
}

// discover lists the cosign signatures of the image dgst in repoPath: the
// layers of its .sig manifest, then its Sigstore bundle referrers. The two
// are read at the same time.
func (v *Verifier) discover(ctx context.Context, repoPath string, dgst digest.Digest) ([]candidate, error) {
	repoRef := repoPath + "@" + dgst.String()
	var (
		wg      sync.WaitGroup
		simple  []candidate
		sigErr  error
		bundles []candidate
		refErr  error
	)
	wg.Go(func() { bundles, refErr = v.bundles(ctx, repoRef, dgst) })
	// Most images have no .sig tag: its absence costs the one request.
	_, raw, err := v.reg.FetchTagged(ctx, repoPath+":"+sigTag(dgst), maxManifestBytes)
	switch {
	case errors.Is(err, oci.ErrNotFound):
	case err != nil:
		sigErr = err
	default:
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err == nil {
			for _, l := range m.Layers {
				if l.MediaType == MediaTypeSimpleSigning {
					simple = append(simple, candidate{digest: l.Digest.String(), format: l.MediaType, layer: l})
				}
			}
		}
	}
	wg.Wait()
	if err := cmp.Or(sigErr, refErr); err != nil {
		return nil, err
	}
	return append(simple, bundles...), nil
}

// bundles lists the Sigstore bundle referrers of the image dgst.
func (v *Verifier) bundles(ctx context.Context, repoRef string, dgst digest.Digest) ([]candidate, error) {
	refs, err := v.reg.Referrers(ctx, repoRef, ocispec.Descriptor{Digest: dgst}, "")
	if err != nil {
		return nil, err
	}
	var out []candidate
	for _, d := range refs {
		if d.MediaType != ocispec.MediaTypeImageManifest {
			continue
		}
		switch {
		case strings.HasPrefix(d.ArtifactType, bundleArtifactPrefix):
			out = append(out, candidate{digest: d.Digest.String(), format: d.ArtifactType, bundle: d})
		case d.ArtifactType == "" || d.ArtifactType == emptyArtifactType:
			// The referrers tag index of a registry without the API
			// carries what its writer put there; the manifest knows.
			raw, err := v.reg.FetchManifest(ctx, repoRef, d, maxManifestBytes)
			if err != nil {
				return nil, err
			}
			var m ocispec.Manifest
			if json.Unmarshal(raw, &m) == nil && strings.HasPrefix(m.ArtifactType, bundleArtifactPrefix) {
				out = append(out, candidate{digest: d.Digest.String(), format: m.ArtifactType, bundle: d})
			}
		}
		if len(out) > v.max {
			break
		}
	}
	return out, nil
}

// check verifies one candidate against p.
func (v *Verifier) check(ctx context.Context, p *Policy, repoRef string, subject ocispec.Descriptor, c candidate) verify.SignatureResult {
	sr := verify.SignatureResult{Verifier: VerifierName, Digest: c.digest, Format: c.format}
	unreadable := func(err error, what string) verify.SignatureResult {
		if oci.IsTransient(err) || ctx.Err() != nil {
			sr.Code, sr.Transient = verify.CodeRegistryUnavailable, true
			sr.Reason = fmt.Sprintf("cannot read cosign signature %s of %s (%s); retry", short(c.digest), repoRef, what)
			sr.Remediation = "retry"
			return sr
		}
		sr.Code = verify.CodeSignatureUnreadable
		sr.Reason = fmt.Sprintf("cosign signature %s of %s cannot be read: %s", short(c.digest), repoRef, what)
		sr.Remediation = "re-sign the image with cosign"
		return sr
	}
	var entity sgverify.SignedEntity
	// artifact is a function: an artifact reader is consumed by one
	// verification, and a signature may be tried against several keys.
	var artifact func() sgverify.ArtifactPolicyOption
	if c.bundle.Digest != "" {
		raw, err := v.reg.FetchManifest(ctx, repoRef, c.bundle, maxManifestBytes)
		if err != nil {
			return unreadable(err, "fetching its manifest")
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) != 1 {
			return unreadable(err, "its manifest does not hold exactly one bundle layer")
		}
		data, err := v.reg.FetchBlob(ctx, repoRef, m.Layers[0], MaxBundleBytes)
		if err != nil {
			return unreadable(err, "fetching its bundle")
		}
		b, err := ParseBundle(data)
		if err != nil {
			return unreadable(err, err.Error())
		}
		if env, err := b.Envelope(); err == nil {
			st, err := env.Statement()
			if err != nil || st.GetPredicateType() != cosignSignPredicate {
				pt := ""
				if st != nil {
					pt = st.GetPredicateType()
				}
				sr.Code = verify.CodeUnsupportedFormat
				sr.Reason = fmt.Sprintf("Sigstore bundle %s of %s is an attestation (predicate type %q), not a cosign signature", short(c.digest), repoRef, pt)
				sr.Remediation = "sign the image with cosign sign"
				return sr
			}
		}
		entity = b
		hexd, _ := hex.DecodeString(subject.Digest.Encoded())
		artifact = func() sgverify.ArtifactPolicyOption { return sgverify.WithArtifactDigest("sha256", hexd) }
	} else {
		payload, err := v.reg.FetchBlob(ctx, repoRef, c.layer, MaxPayloadBytes)
		if err != nil {
			return unreadable(err, "fetching its payload")
		}
		pl, err := ParsePayload(payload)
		if err != nil {
			return unreadable(err, err.Error())
		}
		if pl.Digest != subject.Digest {
			sr.Code = verify.CodeDigestMismatch
			sr.Reason = fmt.Sprintf("cosign signature %s in %s signs %s, not this image; it was copied from another image", short(c.digest), sigTag(subject.Digest), pl.Digest)
			sr.Remediation = "sign this image with cosign sign"
			return sr
		}
		s, err := ParseSimpleSignature(payload, c.layer.Annotations)
		if err != nil {
			return unreadable(err, err.Error())
		}
		entity = s
		artifact = func() sgverify.ArtifactPolicyOption { return sgverify.WithArtifact(bytes.NewReader(payload)) }
	}
	return v.verifyEntity(p, repoRef, entity, artifact, sr)
}

// ParseBundle decodes a Sigstore bundle (JSON, any supported version) and
// checks its structure. It does not verify it.
func ParseBundle(data []byte) (*bundle.Bundle, error) {
	if len(data) > MaxBundleBytes {
		return nil, fmt.Errorf("the Sigstore bundle is %d bytes, more than the %d accepted", len(data), MaxBundleBytes)
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("not a valid Sigstore bundle: %v", err)
	}
	return &b, nil
}

// verifyEntity runs sigstore-go on entity: against each key of p, then, if
// the entity has a certificate, against p's identities.
func (v *Verifier) verifyEntity(p *Policy, repoRef string, entity sgverify.SignedEntity, artifact func() sgverify.ArtifactPolicyOption, sr verify.SignatureResult) verify.SignatureResult {
	vc, err := entity.VerificationContent()
	if err != nil {
		sr.Code = verify.CodeSignatureUnreadable
		sr.Reason = fmt.Sprintf("cosign signature %s of %s has no usable verification material: %v", short(sr.Digest), repoRef, err)
		sr.Remediation = "re-sign the image with cosign"
		return sr
	}
	tlogs, _ := entity.TlogEntries()
	stamps, _ := entity.Timestamps()
	cert := vc.Certificate()

	if cert == nil || len(p.Identities) == 0 {
		// Keyed: a bare-key signature, or a certificate-backed one when
		// only keys are configured (the certificate's key is what signed).
		sr.SigningScheme = SchemeKey
		if len(p.Keys) == 0 {
			sr.Code = verify.CodeUntrustedSigner
			if len(p.Revoked) > 0 {
				sr.Reason = fmt.Sprintf("cosign signature %s of %s was made with a key, and every key of policy %q was revoked where it is kept, disabled or deleted (%s), so none is trusted", short(sr.Digest), repoRef, p.Name, strings.Join(p.Revoked, ", "))
				sr.Remediation = "sign with a key the policy trusts, or enable the key's version again if it was not revoked"
				return sr
			}
			sr.Reason = fmt.Sprintf("cosign signature %s of %s was made with a key, but policy %q accepts only keyless signatures", short(sr.Digest), repoRef, p.Name)
			sr.Remediation = "add the signer's public key to the policy's keys, or sign keyless"
			return sr
		}
		if cert != nil {
			entity = keyedView{entity}
		}
		if p.RequireTransparencyLog && len(tlogs) == 0 {
			return explainMissingProof(sr, p, repoRef, nil, "transparency-log entry")
		}
		if p.RequireSignedTimestamp && len(stamps) == 0 {
			return explainMissingProof(sr, p, repoRef, nil, "signed timestamp")
		}
		var lastErr error
		for _, k := range p.Keys {
			err := verifyWithKey(p, k, entity, artifact)
			if err == nil {
				sr.Verified, sr.Code, sr.SignerSubject = true, verify.CodeVerified, k.label()
				return sr
			}
			lastErr = err
		}
		sr.Code = verify.CodeUntrustedSigner
		names := make([]string, len(p.Keys))
		for i, k := range p.Keys {
			names[i] = k.label()
		}
		sr.Reason = fmt.Sprintf("cosign signature %s of %s was not made with any key of policy %q (%s)", short(sr.Digest), repoRef, p.Name, strings.Join(names, ", "))
		sr.Remediation = "add the signer's public key to the policy, or sign with a key it trusts"
		if p.RequireTransparencyLog || p.RequireSignedTimestamp {
			sr.Reason += fmt.Sprintf(", or its proofs did not verify (%v)", lastErr)
		}
		return sr
	}

	// Keyless.
	sr.SigningScheme = SchemeKeyless
	if sum, err := certificate.SummarizeCertificate(cert); err == nil {
		sr.SignerSubject = sum.SubjectAlternativeName
		sr.SignerIssuer = sum.Extensions.Issuer
	}
	sr.SignerSerial = cert.SerialNumber.Text(16)
	if len(tlogs) == 0 && len(stamps) == 0 {
		return explainMissingProof(sr, p, repoRef, cert, "transparency-log entry or signed timestamp")
	}
	if p.RequireTransparencyLog && len(tlogs) == 0 {
		return explainMissingProof(sr, p, repoRef, cert, "transparency-log entry")
	}
	if p.RequireSignedTimestamp && len(stamps) == 0 {
		return explainMissingProof(sr, p, repoRef, cert, "signed timestamp")
	}
	var vopts []sgverify.VerifierOption
	if len(tlogs) > 0 {
		vopts = append(vopts, sgverify.WithTransparencyLog(1))
	}
	vopts = append(vopts, sgverify.WithObserverTimestamps(1))
	if p.RequireSignedTimestamp {
		vopts = append(vopts, sgverify.WithSignedTimestamps(1))
	}
	sv, err := sgverify.NewVerifier(p.TrustedRoot, vopts...)
	if err != nil {
		sr.Code = verify.CodeError
		sr.Reason = fmt.Sprintf("cosign verification of %s could not start: %v", repoRef, err)
		return sr
	}
	var popts []sgverify.PolicyOption
	for _, id := range p.Identities {
		ci, err := id.sigstore()
		if err != nil {
			continue // validated in NewVerifier
		}
		popts = append(popts, sgverify.WithCertificateIdentity(ci))
	}
	_, err = sv.Verify(entity, sgverify.NewPolicy(artifact(), popts...))
	if err == nil {
		sr.Verified, sr.Code = true, verify.CodeVerified
		return sr
	}
	return explainKeyless(sr, p, repoRef, cert, err)
}

// keyedView hides an entity's certificate so that it is checked against a
// configured key, as cosign verify --key does with certificate-backed
// signatures.
type keyedView struct{ sgverify.SignedEntity }

func (k keyedView) VerificationContent() (sgverify.VerificationContent, error) {
	return keyContent{}, nil
}

func verifyWithKey(p *Policy, k Key, entity sgverify.SignedEntity, artifact func() sgverify.ArtifactPolicyOption) error {
	sv, err := signature.LoadDefaultVerifier(k.Public)
	if err != nil {
		return err
	}
	keyMaterial := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
		return root.NewExpiringKey(sv, time.Time{}, time.Time{}), nil
	})
	var tm root.TrustedMaterial = keyMaterial
	if p.TrustedRoot != nil {
		tm = root.TrustedMaterialCollection{keyMaterial, p.TrustedRoot}
	}
	var vopts []sgverify.VerifierOption
	if p.RequireTransparencyLog {
		vopts = append(vopts, sgverify.WithTransparencyLog(1), sgverify.WithIntegratedTimestamps(1))
	}
	if p.RequireSignedTimestamp {
		vopts = append(vopts, sgverify.WithSignedTimestamps(1))
	}
	if len(vopts) == 0 {
		vopts = append(vopts, sgverify.WithNoObserverTimestamps())
	}
	v, err := sgverify.NewVerifier(tm, vopts...)
	if err != nil {
		return err
	}
	_, err = v.Verify(entity, sgverify.NewPolicy(artifact(), sgverify.WithKey()))
	return err
}

func explainMissingProof(sr verify.SignatureResult, p *Policy, repoRef string, cert *x509.Certificate, what string) verify.SignatureResult {
	if cert != nil && time.Now().After(cert.NotAfter) {
		sr.Code = verify.CodeCertificateExpired
		sr.Reason = fmt.Sprintf("the certificate of cosign signature %s of %s expired at %s, and the signature has no %s to show it was made while the certificate was valid", short(sr.Digest), repoRef, cert.NotAfter.UTC().Format(time.RFC3339), what)
		sr.Remediation = "re-sign with cosign sign uploading to Rekor (--tlog-upload=true) or with --timestamp-server-url"
		return sr
	}
	sr.Code = verify.CodeTransparencyLogMissing
	sr.Reason = fmt.Sprintf("cosign signature %s of %s has no %s, which policy %q requires; sign with the transparency log (or a timestamping authority) on", short(sr.Digest), repoRef, what, p.Name)
	sr.Remediation = "re-sign with cosign sign uploading to Rekor (--tlog-upload=true) or with --timestamp-server-url"
	return sr
}

// explainKeyless turns a failed sigstore-go verification of a keyless
// signature into a reason. sigstore-go wraps each stage's error with a
// fixed prefix, which is what tells the stages apart.
func explainKeyless(sr verify.SignatureResult, p *Policy, repoRef string, cert *x509.Certificate, err error) verify.SignatureResult {
	sig := fmt.Sprintf("cosign signature %s of %s", short(sr.Digest), repoRef)
	var idErr *sgverify.ErrNoMatchingCertificateIdentity
	msg := err.Error()
	switch {
	case errors.As(err, &idErr):
		ids := make([]string, len(p.Identities))
		for i, id := range p.Identities {
			ids[i] = id.String()
		}
		sr.Code = verify.CodeIdentityMismatch
		sr.Reason = fmt.Sprintf("%s was made by identity %s from issuer %s, which policy %q does not accept (it accepts %s)", sig, sr.SignerSubject, sr.SignerIssuer, p.Name, strings.Join(ids, "; "))
		sr.Remediation = "add the signer's identity and issuer to the policy's keyless identities, or check who signed the image"
	case strings.Contains(msg, "failed to verify log inclusion"):
		sr.Code = verify.CodeTransparencyLogMissing
		sr.Reason = fmt.Sprintf("%s has a transparency-log entry that does not verify against the Rekor logs of the trusted root of policy %q", sig, p.Name)
		sr.Remediation = "check that the trusted root holds the Rekor log the signature was recorded in"
	case strings.Contains(msg, "failed to verify timestamps"):
		sr.Code = verify.CodeTimestampInvalid
		sr.Reason = fmt.Sprintf("%s has no timestamp that verifies against the trusted root of policy %q", sig, p.Name)
		sr.Remediation = "check that the trusted root holds the timestamping authority or Rekor log the signature used"
	case strings.Contains(msg, "failed to verify leaf certificate"):
		sr.Code = verify.CodeInvalidCertificateChain
		sr.Reason = fmt.Sprintf("the certificate of %s (identity %s) was not issued by a Fulcio certificate authority of the trusted root of policy %q at the time of signing", sig, sr.SignerSubject, p.Name)
		sr.Remediation = "add the Fulcio instance that issued it to the trusted root, or check who signed the image"
	case strings.Contains(msg, "failed to verify signature"):
		sr.Code = verify.CodeIntegrity
		sr.Reason = fmt.Sprintf("%s does not verify: the signature does not match this image or its certificate", sig)
		sr.Remediation = "re-sign the image with cosign"
	default:
		sr.Code = verify.CodeError
		sr.Reason = fmt.Sprintf("%s failed verification: %v", sig, err)
		sr.Remediation = "re-sign the image with cosign"
	}
	return sr
}
