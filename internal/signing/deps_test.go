package signing

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps signing on any crypto.Signer: the key backends (cgo, the
// Azure SDK) hand a Signer in from above, and signing never reads a configuration or verifies.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"github.com/ThalesGroup/crypto11",
		"github.com/miekg/pkcs11",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
