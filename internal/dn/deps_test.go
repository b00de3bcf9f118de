package dn

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps dn a leaf: trust policies and certificate
// policies both read names through it, so it may use go-ldap and nothing
// of hallmark.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."}, "github.com/hallmark-dev/hallmark/", "oras.land/", "github.com/notaryproject/")
}
