package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
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
