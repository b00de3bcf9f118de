package local

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the local key store a backend of the contract alone: no cgo,
// no Azure SDK, no other backend, nothing above keys.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/keys/pkcs11$",
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
