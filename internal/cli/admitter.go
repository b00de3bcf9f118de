package cli

import (
	"context"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/cache"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// admitterHooks are the optional observers of an admitter built from a
// configuration; serve sets them to count, audit leaves them unset.
type admitterHooks struct {
	generation uint64
	onResponse func(host string, status int)
	onLookup   func(hit bool)
	options    admission.Options
	// policy, when set, changes the configuration's admission policy (audit
	// gives each object its own deadline).
	policy func(*admission.Policy)
}

// builtAdmitter is what one configuration generation turns into.
type builtAdmitter struct {
	admitter *admission.Admitter
	cache    *cache.Cache
	// trust is the trust store's fingerprint.
	trust string
}

// buildAdmitter builds, from cfg, the registry client, the verification
// engine, the result cache and the admitter in front of them: what `serve`
// builds for each configuration generation and `audit` builds once.
func buildAdmitter(ctx context.Context, cfg *config.Config, h admitterHooks) (*builtAdmitter, error) {
	built, err := cfg.Build(ctx)
	if err != nil {
		return nil, err
	}
	ropts := built.Registry
	ropts.UserAgent = "hallmark/" + Version
	ropts.OnResponse = h.onResponse
	client, err := oci.New(ropts)
	if err != nil {
		return nil, err
	}
	engine, err := verify.NewEngine(built.TrustPolicy, built.TrustStore, oci.Repositories{Client: client}, verify.EngineOptions{MaxSignatures: cfg.Verification.MaxSignatures})
	if err != nil {
		return nil, err
	}
	copts := cfg.CacheOptions()
	copts.Generation = h.generation
	copts.Resolver = client
	copts.OnLookup = h.onLookup
	c := cache.New(engine, copts)
	policy := cfg.AdmissionPolicy()
	if h.policy != nil {
		h.policy(&policy)
	}
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	return &builtAdmitter{
		admitter: admission.New(c, client, policy, h.options),
		cache:    c,
		trust:    built.TrustStore.Fingerprint(),
	}, nil
}
