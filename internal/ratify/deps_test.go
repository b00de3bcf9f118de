package ratify

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps reading Ratify's resources a matter of data: the result is a
// config.Config, so neither the runtime, the registry client, the
// verifiers, key backends nor a Kubernetes client are linked.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission$", "github.com/hallmark-dev/hallmark/internal/admission/webhook", "github.com/hallmark-dev/hallmark/internal/admission/gatekeeper",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/keys/local", "github.com/hallmark-dev/hallmark/internal/keys/pkcs11$", "github.com/hallmark-dev/hallmark/internal/keys/azurekv$", "github.com/hallmark-dev/hallmark/internal/keys/providers",
		"github.com/hallmark-dev/hallmark/internal/oci",
		"github.com/hallmark-dev/hallmark/internal/ratify/watch",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"github.com/hallmark-dev/hallmark/internal/verify$",
		"github.com/hallmark-dev/hallmark/internal/verify/cosign",
		"github.com/hallmark-dev/hallmark/internal/verify/kinds",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"github.com/ThalesGroup/crypto11",
		"github.com/miekg/pkcs11",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
