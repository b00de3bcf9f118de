package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	// Register the two Notary Project envelope formats with notation-core-go:
	// verification only parses envelopes, and parsing needs the registration.
	_ "github.com/notaryproject/notation-core-go/signature/cose"
	_ "github.com/notaryproject/notation-core-go/signature/jws"

	"github.com/notaryproject/notation-core-go/revocation"
	"github.com/notaryproject/notation-core-go/revocation/crl"
	"github.com/notaryproject/notation-core-go/revocation/purpose"
	"github.com/notaryproject/notation-go"
	notationregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/registryname"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

const (
	// DefaultMaxSignatures is how many signatures of one image are tried
	// when EngineOptions.MaxSignatures is zero; notation uses the same.
	DefaultMaxSignatures = 100
	// MaxSignaturesLimit caps EngineOptions.MaxSignatures. Each signature
	// costs two registry round trips and a verification; past this an image
	// is being flooded with signatures, and trying them all would let anyone
	// who can push to the repository slow down every admission.
	MaxSignaturesLimit = 1000

	// DefaultOCSPTimeout bounds one OCSP request, as in notation.
	DefaultOCSPTimeout = 2 * time.Second
	// DefaultCRLTimeout bounds one CRL download, as in notation.
	DefaultCRLTimeout = 5 * time.Second

	// maxSignatureManifestSize caps the signature manifest size a registry
	// may declare before hallmark fetches it. A Notary Project signature
	// manifest is under 1 KiB; notation-go allows 4 MiB, which multiplied by
	// MaxSignatures and concurrent admissions is too much memory.
	maxSignatureManifestSize = 256 << 10 // 256 KiB
	// maxEnvelopeSize caps a signature envelope. Real envelopes, with a
	// chain and a timestamp, are under 16 KiB; notation-go refuses more than
	// 32 MiB before download, and this cap bounds what is parsed.
	maxEnvelopeSize = 4 << 20 // 4 MiB
)

// Repositories hands out a notation-go repository for an image reference.
// internal/oci's Client provides it; tests use a plain oras-go repository.
type Repositories interface {
	// NotationRepository returns the repository that holds ref and its
	// signatures. ref has a registry and a tag or digest.
	NotationRepository(ctx context.Context, ref string) (notationregistry.Repository, error)
}

// EngineOptions tunes an Engine. The zero value is ready to use. There is
// no clock: notation-go reads time.Now itself for expiry and certificate
// validity.
type EngineOptions struct {
	// MaxSignatures is how many signatures of one image are tried before
	// giving up. Zero means DefaultMaxSignatures (100); more than
	// MaxSignaturesLimit is an error.
	MaxSignatures int
	// OCSPTimeout bounds each OCSP request. Zero means DefaultOCSPTimeout.
	OCSPTimeout time.Duration
	// CRLTimeout bounds each CRL download. Zero means DefaultCRLTimeout.
	CRLTimeout time.Duration
	// CRLCache keeps downloaded CRLs until their next update. Nil means an
	// in-memory cache owned by the engine.
	CRLCache crl.Cache
	// ExplainUnreachable gives, for a registry that could not be reached,
	// the cause (refused, timed out, TLS, DNS, a blocked address) in
	// Result.Reason, for a person at a command line. Zero: one message
	// whatever the cause, so that whoever picks the image (a pod author,
	// for the admission server) learns nothing about the network from it;
	// the cause stays in Result.Err for the server's log.
	ExplainUnreachable bool
	// CommandFlags, if set, returns the flags a hallmark command needs to
	// reach registry as the caller does (" --plain-http"), so that the
	// commands remediations print run as printed. Nil: none.
	CommandFlags func(registry string) string
	// RequireAllSignatures makes every Notary Project signature of an image
	// count: the image passes only when there is at least one and each one
	// found verifies, as under Ratify's config policy "all" (the policy its
	// Helm chart installs). One signature that does not verify, or more
	// signatures than MaxSignatures, fails the image. Zero: one signature
	// that verifies is enough, whatever the others say.
	RequireAllSignatures bool
	// DefaultSignKey says that `hallmark sign` has a default key where the
	// remediations will be read, so the sign commands they print need no
	// --key. Zero: they print "--key KEY", KEY to be replaced.
	DefaultSignKey bool
}

// Engine verifies images against one trust policy and trust store. It is
// safe for concurrent use. Build a new Engine when the policy or the trust
// store changes: an Engine never mixes verdicts of two policies.
type Engine struct {
	policy        *trustpolicy.Document
	store         truststore.X509TrustStore
	repos         Repositories
	verifier      notation.Verifier
	maxSignatures int
	explain       bool // EngineOptions.ExplainUnreachable
	commandFlags  func(registry string) string
	keyFlag       string // what sign commands add to name a key
	requireAll    bool   // EngineOptions.RequireAllSignatures
}

// NewEngine checks the policy (with the same rules as ParseTrustPolicy) and
// builds an Engine. The policy is copied, so later changes to it have no
// effect.
func NewEngine(policy *trustpolicy.Document, store truststore.X509TrustStore, repos Repositories, opts EngineOptions) (*Engine, error) {
	if store == nil {
		return nil, errors.New("verify: NewEngine needs a trust store")
	}
	if repos == nil {
		return nil, errors.New("verify: NewEngine needs Repositories")
	}
	if err := tpolicy.Validate(policy); err != nil {
		return nil, err
	}
	policy = clonePolicy(policy)
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// Revocation responders are named by the certificates in signatures,
	// so they get the registry client's guard against link-local and
	// metadata addresses.
	guarded := oci.GuardedTransport()
	codeSigning, err := revocation.NewWithOptions(revocation.Options{
		OCSPHTTPClient:   &http.Client{Timeout: opts.OCSPTimeout, Transport: guarded},
		CRLFetcher:       newCRLFetcher(opts, guarded),
		CertChainPurpose: purpose.CodeSigning,
	})
	if err != nil {
		return nil, fmt.Errorf("verify: revocation checker: %w", err)
	}
	timestamping, err := revocation.NewWithOptions(revocation.Options{
		OCSPHTTPClient:   &http.Client{Timeout: opts.OCSPTimeout, Transport: guarded},
		CRLFetcher:       newCRLFetcher(opts, guarded),
		CertChainPurpose: purpose.Timestamping,
	})
	if err != nil {
		return nil, fmt.Errorf("verify: revocation checker: %w", err)
	}
	v, err := verifier.NewWithOptions(policy, store, nil, verifier.VerifierOptions{
		RevocationCodeSigningValidator:  offlineChains{codeSigning},
		RevocationTimestampingValidator: timestamping,
	})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return &Engine{policy: policy, store: store, repos: repos, verifier: v, maxSignatures: opts.MaxSignatures, explain: opts.ExplainUnreachable, commandFlags: opts.CommandFlags, keyFlag: keyFlag(opts), requireAll: opts.RequireAllSignatures}, nil
}

func (o EngineOptions) withDefaults() (EngineOptions, error) {
	switch {
	case o.MaxSignatures < 0:
		return o, fmt.Errorf("verify: MaxSignatures is %d; it must be positive, or zero for %d", o.MaxSignatures, DefaultMaxSignatures)
	case o.MaxSignatures > MaxSignaturesLimit:
		return o, fmt.Errorf("verify: MaxSignatures is %d; the limit is %d", o.MaxSignatures, MaxSignaturesLimit)
	case o.MaxSignatures == 0:
		o.MaxSignatures = DefaultMaxSignatures
	}
	if o.OCSPTimeout < 0 || o.CRLTimeout < 0 {
		return o, errors.New("verify: OCSPTimeout and CRLTimeout must not be negative")
	}
	if o.OCSPTimeout == 0 {
		o.OCSPTimeout = DefaultOCSPTimeout
	}
	if o.CRLTimeout == 0 {
		o.CRLTimeout = DefaultCRLTimeout
	}
	if o.CRLCache == nil {
		o.CRLCache = newMemoryCRLCache()
	}
	return o, nil
}

func newCRLFetcher(o EngineOptions, transport http.RoundTripper) crl.Fetcher {
	// NewHTTPFetcher fails only for a nil client.
	f, _ := crl.NewHTTPFetcher(&http.Client{Timeout: o.CRLTimeout, Transport: transport})
	f.Cache = o.CRLCache
	// A broken cache must not turn into a verification failure: fetch
	// from the network instead.
	f.DiscardCacheError = true
	return f
}

func clonePolicy(p *trustpolicy.Document) *trustpolicy.Document {
	out := &trustpolicy.Document{Version: p.Version, TrustPolicies: make([]trustpolicy.TrustPolicy, len(p.TrustPolicies))}
	for i, st := range p.TrustPolicies {
		st.RegistryScopes = append([]string(nil), st.RegistryScopes...)
		st.TrustStores = append([]string(nil), st.TrustStores...)
		st.TrustedIdentities = append([]string(nil), st.TrustedIdentities...)
		if st.SignatureVerification.Override != nil {
			o := make(map[trustpolicy.ValidationType]trustpolicy.ValidationAction, len(st.SignatureVerification.Override))
			for k, v := range st.SignatureVerification.Override {
				o[k] = v
			}
			st.SignatureVerification.Override = o
		}
		out.TrustPolicies[i] = st
	}
	return out
}

// Verify verifies the image ref, which must name a registry and a tag or a
// digest. A tag is resolved to a digest first; the Result records both.
// The image is verified when any one of its signatures passes the trust
// policy statement that covers its repository. Verify never fails: every
// problem, including a cancelled ctx, becomes a Result that is not
// Verified and says why.
func (e *Engine) Verify(ctx context.Context, ref string) Result {
	return e.VerifySubject(ctx, ref, nil)
}

// VerifySubject is Verify for a caller that may already hold the image's
// manifest descriptor, or wants the one this verification reads (see
// SubjectVerifier): with subject's Digest set, the manifest is not read
// again.
func (e *Engine) VerifySubject(ctx context.Context, ref string, subject *ocispec.Descriptor) Result {
	start := time.Now()
	res := e.verify(ctx, ref, subject)
	res.Duration = time.Since(start)
	return res
}

// run holds what one verification has learned so far.
type run struct {
	res          Result
	ref          registry.Reference
	repoPath     string // registry/repository
	statement    *trustpolicy.TrustPolicy
	level        *trustpolicy.VerificationLevel
	trusted      map[string][]*x509.Certificate // by "TYPE:NAME"
	subject      ocispec.Descriptor
	artifactRef  string // registry/repository@digest
	moreExisting bool   // signatures beyond MaxSignatures exist
	explain      bool   // EngineOptions.ExplainUnreachable
	flags        string // EngineOptions.CommandFlags for this registry
	keyFlag      string // Engine.keyFlag
}

func (e *Engine) verify(ctx context.Context, ref string, known *ocispec.Descriptor) Result {
	r := &run{res: Result{Reference: ref}, explain: e.explain, keyFlag: e.keyFlag}

	parsed, msg := parseImageReference(ref)
	if msg != "" {
		return r.fail(CodeInvalidReference, msg, "write the reference in full, e.g. registry.example.com/team/app:v1 or …/app@sha256:…", false, nil)
	}
	r.ref = parsed
	r.repoPath = parsed.Registry + "/" + parsed.Repository
	if e.commandFlags != nil {
		r.flags = e.commandFlags(parsed.Registry)
	}
	if registryname.IsDigest(parsed.Reference) {
		r.res.Digest = parsed.Reference
	} else {
		r.res.Tag = parsed.Reference
	}

	r.statement = e.applicableStatement(r.repoPath)
	if r.statement == nil {
		return r.fail(CodeNoApplicablePolicy,
			fmt.Sprintf("no trust policy statement covers %s; add it to registryScopes or add a \"*\" statement", r.repoPath),
			fmt.Sprintf("add %q to the registryScopes of a trust policy statement, or add a statement with registryScopes [\"*\"]", r.repoPath),
			false, nil)
	}
	r.res.Policy = r.statement.Name
	// The policy was validated in NewEngine, so the level is known.
	r.level, _ = r.statement.SignatureVerification.GetVerificationLevel()
	r.res.Level = r.level.Name

	// Before the skip shortcut: opening the repository makes no request,
	// but refuses a registry the client may not contact (its allow-list),
	// and an image from such a registry is denied whatever the level.
	repo, err := e.repos.NotationRepository(ctx, ref)
	if err != nil {
		return r.registryFailure(ctx, err, "opening the repository")
	}
	// The signature data a repository holds against a global bound (see
	// oci.NotationRepository) is given back when this verification ends.
	if rel, ok := repo.(interface{ Release() }); ok {
		defer rel.Release()
	}

	if r.level.Name == trustpolicy.LevelSkip.Name {
		// Like notation, skip touches nothing: no registry access, so a
		// skipped repository keeps working while its registry is down.
		r.res.Verified = true
		r.res.Code = CodeSkipped
		r.res.Reason = fmt.Sprintf("trust policy statement %q skips signature verification for %s (level skip); nothing was checked", r.statement.Name, r.repoPath)
		r.res.Warnings = []string{r.res.Reason}
		return r.res
	}

	if fail := e.loadTrustStores(ctx, r); fail {
		return r.res
	}

	if known != nil && known.Digest != "" {
		// The registry already answered for ref (a tag resolved to this
		// descriptor, or a verifier before this one read it): reading the
		// manifest again would cost a request and tell nothing new. The
		// signatures are still checked against this descriptor's digest,
		// size and media type.
		if known.Digest.Validate() != nil || r.res.Digest != "" && known.Digest.String() != r.res.Digest {
			return r.fail(CodeError,
				fmt.Sprintf("hallmark was handed manifest %s to verify %s; this is a hallmark bug", known.Digest, r.res.Digest),
				"report this as a hallmark bug", false, nil)
		}
		r.res.Digest = known.Digest.String()
		r.subject = *known
		r.artifactRef = r.repoPath + "@" + r.res.Digest
		return e.verifySignatures(ctx, r, repo, e.listSignatures(ctx, repo, r.subject))
	}

	// A digest reference names the image its signatures refer to already,
	// so the listing runs while the manifest is read: a cold verification
	// then waits for three registry round trips, not four. A tag must be
	// resolved first. The listing is used only once the manifest is read
	// and matches.
	var listed chan listing
	if r.res.Digest != "" {
		if d, err := digest.Parse(r.res.Digest); err == nil {
			lctx, cancel := context.WithCancel(ctx)
			defer cancel()
			listed = make(chan listing, 1)
			done := make(chan struct{})
			// The listing takes from the repository's signature budget,
			// which Release (deferred above) gives back: wait for it first.
			defer func() { cancel(); <-done }()
			go func() {
				defer close(done)
				listed <- e.listSignatures(lctx, repo, ocispec.Descriptor{Digest: d})
			}()
		}
	}

	desc, err := repo.Resolve(ctx, parsed.Reference)
	if err != nil {
		what := "resolving tag " + parsed.Reference
		if r.res.Digest != "" {
			what = "reading manifest " + parsed.Reference
		}
		return r.registryFailure(ctx, err, what)
	}
	if r.res.Digest != "" && desc.Digest.String() != r.res.Digest {
		return r.fail(CodeRegistryError,
			fmt.Sprintf("registry %s answered manifest %s when asked for %s; the registry is misbehaving or the request was tampered with", parsed.Registry, desc.Digest, r.res.Digest),
			"check the registry and any proxy in front of it", false, nil)
	}
	r.res.Digest = desc.Digest.String()
	r.subject = desc
	r.artifactRef = r.repoPath + "@" + r.res.Digest
	if known != nil {
		*known = desc
	}

	var l listing
	if listed != nil {
		l = <-listed
	} else {
		l = e.listSignatures(ctx, repo, r.subject)
	}
	return e.verifySignatures(ctx, r, repo, l)
}

// applicableStatement picks the statement whose registryScopes name
// repoPath exactly, else the "*" statement, else nil: the same rule as
// notation-go's GetApplicableTrustPolicy.
func (e *Engine) applicableStatement(repoPath string) *trustpolicy.TrustPolicy {
	var global *trustpolicy.TrustPolicy
	for i := range e.policy.TrustPolicies {
		st := &e.policy.TrustPolicies[i]
		for _, s := range st.RegistryScopes {
			if s == repoPath {
				return st
			}
			if s == "*" {
				global = st
			}
		}
	}
	return global
}

// loadTrustStores reads every store the statement names, so that a
// missing store is reported as such, with where to add it, rather than as
// an untrusted signer. That includes a tsa store this signature may not
// need: a policy naming a store that does not exist is a mistake worth
// fixing before the day it matters. It also keeps the certificates to
// explain authenticity failures. It reports whether r has failed.
func (e *Engine) loadTrustStores(ctx context.Context, r *run) bool {
	r.trusted = map[string][]*x509.Certificate{}
	for _, s := range r.statement.TrustStores {
		typ, name, _ := tpolicy.ParseStoreRef(s) // validated in NewEngine
		certs, err := e.store.GetCertificates(ctx, typ, name)
		if err == nil && len(certs) == 0 {
			err = ErrTrustStoreNotFound
		}
		if err != nil {
			hint := fmt.Sprintf("add certificates to trust store %s", s)
			if ts, ok := e.store.(*tstore.Store); ok {
				hint = ts.AddHint(typ, name)
			}
			reason := fmt.Sprintf("trust store %s named by trust policy statement %q has no certificates; %s", s, r.statement.Name, hint)
			// notation-go's file-based store reports a missing directory
			// with fs.ErrNotExist.
			if !errors.Is(err, ErrTrustStoreNotFound) && !errors.Is(err, fs.ErrNotExist) {
				reason = fmt.Sprintf("trust store %s named by trust policy statement %q cannot be read (%v); %s", s, r.statement.Name, err, hint)
			}
			r.fail(CodeTrustStoreMissing, reason, hint, false, err)
			return true
		}
		r.trusted[s] = certs
	}
	return false
}

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
