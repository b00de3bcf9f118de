package registryname

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps registryname a leaf that the configuration can
// link: no other hallmark package and no registry client.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/",
		"oras.land/oras-go/v2/registry/remote",
		"net/http",
	)
}
