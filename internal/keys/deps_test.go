package keys

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the key-provider contract free of its backends: a package
// that only names a key links no PKCS#11 (cgo) and no Azure SDK.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/keys/local",
		"github.com/hallmark-dev/hallmark/internal/keys/pkcs11$",
		"github.com/hallmark-dev/hallmark/internal/keys/azurekv$",
		"github.com/hallmark-dev/hallmark/internal/keys/providers",
		"github.com/hallmark-dev/hallmark/internal/oci",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"github.com/ThalesGroup/crypto11",
		"github.com/miekg/pkcs11",
		"oras.land/",
	)
}
