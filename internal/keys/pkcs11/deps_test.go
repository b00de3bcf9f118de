package pkcs11

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the PKCS#11 backend (cgo by design) apart from the other
// backends and from everything above the key-provider contract.
func TestDependencies(t *testing.T) {
	deptest.CheckWithCgo(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/keys/local",
		"github.com/hallmark-dev/hallmark/internal/keys/azurekv$",
		"github.com/hallmark-dev/hallmark/internal/keys/providers",
		"github.com/hallmark-dev/hallmark/internal/oci",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/Azure/azure-sdk-for-go",
		"github.com/AzureAD/",
	)
}
