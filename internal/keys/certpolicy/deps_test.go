package certpolicy

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps certpolicy below every key provider: it is pure
// policy and X.509, so it must not reach the provider contract (keys
// imports certpolicy), a backend, the registry, verification or cloud SDKs,
// and must build without cgo.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/oci",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/Azure/azure-sdk-for-go", "github.com/miekg/pkcs11", "github.com/ThalesGroup/crypto11",
		"oras.land/", "github.com/notaryproject/",
	)
}
