package demo

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the demo on the runtime `hallmark serve` runs: it
// mounts internal/serve and builds no handlers or admitters of its own.
func TestDependencies(t *testing.T) {
	deptest.CheckImports(t, ".",
		"github.com/hallmark-dev/hallmark/internal/admission/webhook",
		"github.com/hallmark-dev/hallmark/internal/admission/gatekeeper",
		"github.com/hallmark-dev/hallmark/internal/server",
	)
}
