package serve

import (
	"context"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/verify"
)

// notLoadedReason is what a request answered before the first generation
// is told. It does not repeat the load's error, which may name internal
// addresses (a vault's URL); the resources' status and the log have it.
const notLoadedReason = "hallmark has no configuration in force yet (the first one did not load), so no image can be verified; " +
	"see the status of Ratify's resources (kubectl get verifier,certificatestore,store) and hallmark's log, and fix what they report"

// errNotLoaded is what the pending generation's resolver answers: an
// oci.Error, whose summary the mutating webhook shows, so that it refuses
// tags in deny mode for the same reason.
var errNotLoaded = &oci.Error{Summary: notLoadedReason}

// pendingGeneration answers requests before the first generation: the
// admission policy of cfg (mode, namespaces, exemptions) over a verifier
// that verifies nothing. Deny mode denies every image that is not exempt
// or in an excluded namespace; audit mode admits it with a warning, as it
// does any image that does not verify.
func pendingGeneration(cfg *config.Config, opts admission.Options) *Generation {
	return &Generation{
		Config:   cfg,
		Admitter: admission.New(notLoaded{}, notLoaded{}, AdmissionPolicy(cfg), opts),
	}
}

// notLoaded is the pending generation's verifier and resolver.
type notLoaded struct{}

func (notLoaded) Verify(_ context.Context, ref string) verify.Result {
	return verify.Result{Reference: ref, Code: verify.CodeError, Reason: notLoadedReason, Remediation: "fix what the resources' status reports; hallmark retries on its own"}
}

func (notLoaded) Resolve(context.Context, string) (ocispec.Descriptor, error) {
	return ocispec.Descriptor{}, errNotLoaded
}
