package devregistry_test

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the quickstart's embedded registry a registry: it serves
// the OCI API and knows nothing of signing, verification or admission.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"k8s.io/client-go",
		"github.com/notaryproject/",
	)
}
