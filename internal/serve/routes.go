package serve

import (
	"context"
	"net/http"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/admission/gatekeeper"
	"github.com/hallmark-dev/hallmark/internal/admission/webhook"
	"github.com/hallmark-dev/hallmark/internal/server"
)

// The admission routes, the one place their paths are written. The server
// adds /healthz, /readyz and /metrics.
const (
	// ValidatePath is where a ValidatingWebhookConfiguration points.
	ValidatePath = "/validate"
	// MutatePath is where a MutatingWebhookConfiguration points.
	MutatePath = "/mutate"
	// GatekeeperVerifyPath is where Gatekeeper's Provider resource points,
	// Ratify's path.
	GatekeeperVerifyPath = gatekeeper.VerifyPath
	// GatekeeperMutatePath is the provider's mutation endpoint, Ratify's
	// path.
	GatekeeperMutatePath = gatekeeper.MutatePath
)

// Handler returns the admission routes, each served by the generation in
// force at the time of the request and counted in the metrics.
func (r *Runtime) Handler() http.Handler {
	mux := http.NewServeMux()
	wopts := webhook.Options{Logger: r.log}
	gopts := gatekeeper.Options{Logger: r.log}
	m := r.metrics
	// The webhooks count their decisions themselves (Decide, Mutate);
	// the provider's answers are Gatekeeper's to decide.
	mux.Handle(ValidatePath, m.CountRequests("validate", "", webhook.NewValidateHandler(live{r}, wopts)))
	mux.Handle(MutatePath, m.CountRequests("mutate", "", webhook.NewMutateHandler(live{r}, wopts)))
	mux.Handle(GatekeeperVerifyPath, m.CountRequests("gatekeeper-verify", server.OutcomeAnswered, gatekeeper.NewVerifyHandler(live{r}, gopts)))
	mux.Handle(GatekeeperMutatePath, m.CountRequests("gatekeeper-mutate", server.OutcomeAnswered, gatekeeper.NewMutateHandler(live{r}, gopts)))
	return mux
}

// live serves each call from the generation in force when it is made, so
// that one request sees one configuration; before the first, from the
// pending one, which verifies nothing.
type live struct{ r *Runtime }

func (l live) Decide(ctx context.Context, req admission.Request) admission.Decision {
	d := l.r.serving().Admitter.Decide(ctx, req)
	l.r.metrics.ObserveRequest("validate", outcome(d.Allowed))
	return d
}

func (l live) Mutate(ctx context.Context, req admission.Request) admission.Mutation {
	g := l.r.serving()
	if m := g.Config.Admission.Mutate; m != nil && !*m {
		return admission.Mutation{Allowed: true}
	}
	mu := g.Admitter.Mutate(ctx, req)
	l.r.metrics.ObserveRequest("mutate", outcome(mu.Allowed))
	return mu
}

func (l live) VerifyImages(ctx context.Context, images []admission.NamespacedImage) []admission.ImageVerdict {
	return l.r.serving().Admitter.VerifyImages(ctx, images)
}

func (l live) PinImages(ctx context.Context, images []admission.NamespacedImage) []admission.Pin {
	return l.r.serving().Admitter.PinImages(ctx, images)
}

// Policy lets the provider read the policy in force (whether every caller
// may set a key's namespace).
func (l live) Policy() admission.Policy {
	return l.r.serving().Admitter.Policy()
}

func outcome(allowed bool) string {
	if allowed {
		return server.OutcomeAllowed
	}
	return server.OutcomeDenied
}
