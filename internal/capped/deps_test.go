package capped

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps capped on the standard library: every package that
// reads a file uses it.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."}, "github.com/", "golang.org/x/", "oras.land/", "k8s.io/")
}
