package audit

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the audit of running workloads on the dynamic client and the
// admitter: no typed clientset, no runtime, no key backends.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"k8s.io/client-go/kubernetes",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"github.com/spf13/cobra",
	)
}
