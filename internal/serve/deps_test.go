package serve

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the runtime below the command line: the CLI and
// the demo mount it, never the other way round.
func TestDependencies(t *testing.T) {
	deptest.CheckWithCgo(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/demo",
		"github.com/spf13/cobra",
	)
}
