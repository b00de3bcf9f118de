package cli

import (
	"context"
	"net/http"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/admission/gatekeeper"
	"github.com/hallmark-dev/hallmark/internal/server"
)

// gatekeeperRoutes adds the Ratify-compatible Gatekeeper provider endpoints,
// served by the admitter in force.
func (s *serveState) gatekeeperRoutes(mux *http.ServeMux) {
	opts := gatekeeper.Options{Logger: s.log}
	mux.Handle(gatekeeper.VerifyPath, s.countRequests("gatekeeper-verify", server.OutcomeAnswered, gatekeeper.NewVerifyHandler(gatekeeperLive{s}, opts)))
	mux.Handle(gatekeeper.MutatePath, s.countRequests("gatekeeper-mutate", server.OutcomeAnswered, gatekeeper.NewMutateHandler(gatekeeperLive{s}, opts)))
}

// gatekeeperLive picks the admitter of the configuration in force per call.
type gatekeeperLive struct{ s *serveState }

func (g gatekeeperLive) VerifyImages(ctx context.Context, images []admission.NamespacedImage) []admission.ImageVerdict {
	return g.s.cur.Load().admitter.VerifyImages(ctx, images)
}

func (g gatekeeperLive) PinImages(ctx context.Context, images []admission.NamespacedImage) []admission.Pin {
	return g.s.cur.Load().admitter.PinImages(ctx, images)
}

// Policy lets the provider read the policy in force (whether every caller
// may set a key's namespace).
func (g gatekeeperLive) Policy() admission.Policy {
	return g.s.cur.Load().admitter.Policy()
}
