package certbundle

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps certbundle on the standard library: trust stores,
// TLS and key stores all read bundles through it, so it must pull in none
// of them.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."}, "github.com/", "golang.org/x/", "oras.land/", "k8s.io/")
}
