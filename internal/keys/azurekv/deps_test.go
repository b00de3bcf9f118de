package azurekv

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the Key Vault backend apart from the other backends (no
// cgo) and from everything above the key-provider contract.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/keys/local",
		"github.com/hallmark-dev/hallmark/internal/keys/pkcs11$",
		"github.com/hallmark-dev/hallmark/internal/keys/providers",
		"github.com/hallmark-dev/hallmark/internal/oci",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/ThalesGroup/crypto11",
		"github.com/miekg/pkcs11",
	)
}
