package acr_test

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the ACR credentials store a plug-in of the registry
// client: the Azure SDK's core, and nothing of what uses the client.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/ratify",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"github.com/Azure/azure-sdk-for-go/sdk/security/",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
