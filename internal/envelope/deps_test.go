package envelope

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps describing a signature envelope a matter of bytes: no
// registry client and nothing else of hallmark.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/",
		"oras.land/oras-go/v2/registry/remote",
		"github.com/Azure/azure-sdk-for-go", "github.com/AzureAD/",
		"k8s.io/",
	)
}
