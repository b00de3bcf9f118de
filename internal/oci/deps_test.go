package oci

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the registry client below everything that uses it, and the
// cloud SDKs out of it: Azure credentials are a store of their own (oci/acr).
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/audit",
		"github.com/hallmark-dev/hallmark/internal/cache",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/oci/acr",
		"github.com/hallmark-dev/hallmark/internal/ratify",
		"github.com/hallmark-dev/hallmark/internal/serve",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/signing",
		"github.com/hallmark-dev/hallmark/internal/verify",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"cloud.google.com/",
		"github.com/aws/",
		"k8s.io/client-go",
		"github.com/spf13/cobra",
	)
}
