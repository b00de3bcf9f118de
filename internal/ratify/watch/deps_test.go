package watch

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the cluster source of Ratify's resources a source: it yields
// configurations and knows nothing of what the runtime builds from them.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission$", "github.com/hallmark-dev/hallmark/internal/admission/webhook", "github.com/hallmark-dev/hallmark/internal/admission/gatekeeper",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/keys/local", "github.com/hallmark-dev/hallmark/internal/keys/pkcs11$", "github.com/hallmark-dev/hallmark/internal/keys/azurekv$", "github.com/hallmark-dev/hallmark/internal/keys/providers",
		"github.com/hallmark-dev/hallmark/internal/oci",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"github.com/hallmark-dev/hallmark/internal/verify$",
		"github.com/hallmark-dev/hallmark/internal/verify/cosign",
		"github.com/hallmark-dev/hallmark/internal/verify/kinds",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"github.com/ThalesGroup/crypto11",
		"github.com/miekg/pkcs11",
		"k8s.io/client-go/kubernetes",
		"github.com/spf13/cobra",
	)
}
