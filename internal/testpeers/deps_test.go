package testpeers

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestNotInBinary keeps the test support packages (peers, fakes, helpers)
// and the end-to-end suites out of the hallmark binary: they start
// processes, fake cloud endpoints and hold test keys.
func TestNotInBinary(t *testing.T) {
	const hm = "github.com/hallmark-dev/hallmark/internal/"
	deptest.CheckWithCgo(t, []string{"../../cmd/hallmark"},
		hm+"deptest", hm+"goldentest", hm+"proctest", hm+"testpeers",
		hm+"verify/verifytest", hm+"signing/signingtest", hm+"keys/pkcs11/softhsmtest",
		hm+"keys/azurekv/kvtest", hm+"oci/acr/acrtest", hm+"interop", hm+"kubee2e",
	)
}
