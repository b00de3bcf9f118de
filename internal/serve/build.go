package serve

import (
	"context"
	"slices"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// BuildOptions are the optional observers and adjustments of an admitter
// built from a configuration; the runtime sets them to count, `hallmark
// audit` leaves most unset.
type BuildOptions struct {
	// UserAgent is sent to registries. Empty means oci's default.
	UserAgent string
	// OnResponse, if set, sees every registry response (oci.Options).
	OnResponse func(host string, status int)
	// OnLookup, if set, sees every cache lookup (cache.Options).
	OnLookup func(hit bool)
	// Admission are the admitter's options (logger, hooks).
	Admission admission.Options
	// Policy, if set, changes the configuration's admission policy
	// (`hallmark audit` gives each object its own deadline).
	Policy func(*admission.Policy)
	// Cache, if set, changes the configuration's cache options
	// (`hallmark demo` keeps no failures, so a signature pushed while it
	// runs shows at the next request).
	Cache func(*cache.Options)
	// OnTrustSource, if set, sees what each trust store certificate
	// source gave, whether or not the build succeeds.
	OnTrustSource func(config.TrustSource)
	// InForce is the configuration in force, if any. A Key Vault
	// certificate or key that it names and that the vault no longer holds
	// was deleted after it was read: it is revoked (its source trusts
	// nothing) rather than a problem that keeps the configuration in force,
	// and with it what was deleted.
	InForce *config.Config
}

// Generation is what one configuration turns into.
type Generation struct {
	// Config is the configuration it was built from; never modified.
	Config *config.Config
	// Admitter decides admission requests and provider requests.
	Admitter *admission.Admitter
	// Cache is the verifier in front of the engine.
	Cache *cache.Cache
	// Trust is the fingerprint of the trust store and of the cosign keys,
	// for the trust refresh to tell whether rebuilt trust material changed.
	Trust string
}

// Build builds, from cfg, the registry client, the verification engine,
// the result cache and the admitter in front of them: what the runtime
// builds for each configuration generation and `hallmark audit` builds
// once.
func Build(ctx context.Context, cfg *config.Config, o BuildOptions) (*Generation, error) {
	revocable := revocableKeys(o.InForce)
	built, err := prepare(ctx, cfg, o.OnTrustSource, revocable)
	if err != nil {
		return nil, err
	}
	ropts := built.Registry
	if o.UserAgent != "" {
		ropts.UserAgent = o.UserAgent
	}
	ropts.OnResponse = o.OnResponse
	client, err := oci.New(ropts)
	if err != nil {
		return nil, err
	}
	engine, err := verify.NewEngine(built.TrustPolicy, built.TrustStore, oci.Repositories{Client: client}, verify.EngineOptions{MaxSignatures: cfg.Verification.MaxSignatures, RequireAllSignatures: cfg.Verification.RequireAllSignatures})
	if err != nil {
		return nil, err
	}
	verifier, cosignKeys, err := withCosign(ctx, cfg, engine, client, revocable)
	if err != nil {
		return nil, err
	}
	copts := CacheOptions(cfg)
	if o.Cache != nil {
		o.Cache(&copts)
	}
	copts.Resolver = client
	copts.OnLookup = o.OnLookup
	c := cache.New(verifier, copts)
	policy := AdmissionPolicy(cfg)
	if o.Policy != nil {
		o.Policy(&policy)
	}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	return &Generation{
		Config:   cfg,
		Admitter: admission.New(c, client, policy, o.Admission),
		Cache:    c,
		Trust:    trustFingerprint(built.TrustStore.Fingerprint(), cosignKeys),
	}, nil
}

// trustFingerprint combines the trust store's fingerprint and the cosign
// keys' (cosignFingerprint).
func trustFingerprint(store, cosignKeys string) string {
	return store + "/" + cosignKeys
}

// AdmissionPolicy returns the admission policy the configuration asks for:
// mode, namespaces, exemptions, deadline and pinning. Its slices and map are
// copies, so the policy does not change with the configuration. Call it on
// a configuration that passed Validate; mutate is not part of the policy
// (the server applies it).
func AdmissionPolicy(c *config.Config) admission.Policy {
	a := &c.Admission
	var modes map[string]admission.Mode
	if a.NamespaceModes != nil {
		modes = make(map[string]admission.Mode, len(a.NamespaceModes))
		for ns, m := range a.NamespaceModes {
			modes[ns] = admission.Mode(m)
		}
	}
	return admission.Policy{
		Mode:              admission.Mode(c.Mode),
		NamespaceModes:    modes,
		IncludeNamespaces: slices.Clone(a.IncludeNamespaces),
		ExcludeNamespaces: slices.Clone(a.ExcludeNamespaces),
		ExemptImages:      slices.Clone(a.ExemptImages),
		Deadline:          c.Verification.Deadline.Duration,
		PinDigestOnly:     a.PinDigestOnly,

		TrustNamespacePrefixFromAnyCaller: a.TrustNamespacePrefixFromAnyCaller,
		AllowUnpinnedTags:                 a.RequireDigest != nil && !*a.RequireDigest,
	}
}

// CacheOptions returns the cache options this configuration asks for. The
// server adds the generation, resolver and lookup hook.
func CacheOptions(c *config.Config) cache.Options {
	return cache.Options{
		PositiveTTL: c.Verification.Cache.PositiveTTL.Duration,
		NegativeTTL: c.Verification.Cache.NegativeTTL.Duration,
		MaxEntries:  c.Verification.Cache.MaxEntries,
	}
}
