package strict

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps strict on the standard library and the YAML
// library: every package that reads a document uses it, so it must reach
// none of them.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."}, "github.com/", "golang.org/x/", "oras.land/", "k8s.io/", "sigs.k8s.io/")
}
