package notationplugin

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the notation plugin a signer: it links the key backends it
// serves and signing, not verification, admission or the runtime. oci comes in
// through signing, for the one parser of image references; the plugin never
// opens a registry (notation pushes the signature itself).
func TestDependencies(t *testing.T) {
	deptest.CheckWithCgo(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
