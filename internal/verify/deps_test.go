package verify

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps verify small and portable: it runs inside the
// admission server, so it must not pull in cloud SDKs, cgo, or the layers
// that call it (the arrow points inward only).
func TestDependencies(t *testing.T) {
	// go-ldap (needed to read trusted identities, as notation-go does)
	// brings github.com/Azure/go-ntlmssp, which is not a cloud SDK.
	deptest.Check(t, []string{"."},
		"github.com/Azure/azure-sdk-for-go", "cloud.google.com/", "github.com/aws/",
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/spf13/cobra",
	)
}
