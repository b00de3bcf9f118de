package cosignsig

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps cosign signing on any crypto.Signer, like the
// Notary Project signing beside it: the key backends (cgo, the Azure SDK)
// hand a Signer in from above, and nothing here serves or reads a
// configuration. The payload format is verify/cosign's, its one
// implementation.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"github.com/ThalesGroup/crypto11",
		"github.com/miekg/pkcs11",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
