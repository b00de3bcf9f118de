package kinds_test

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the choice between signature kinds a layer over the
// verifiers, under the cache and the admitter.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
