package cli

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the CLI to flags and output: the admission
// runtime (routes, handlers, cache, generations, the audit loop and its
// Lease, the server) is internal/serve's, which the CLI calls.
func TestDependencies(t *testing.T) {
	deptest.CheckImports(t, ".",
		"github.com/hallmark-dev/hallmark/internal/admission/webhook",
		"github.com/hallmark-dev/hallmark/internal/admission/gatekeeper",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/lease",
		"github.com/hallmark-dev/hallmark/internal/server",
		"k8s.io/client-go/tools/clientcmd",
		"k8s.io/client-go/dynamic",
	)
}
