package cosign

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps cosign verification as small as the Notary
// Project engine beside it: it runs inside the admission server, so no
// cloud SDKs, no cgo, and no layer that calls it. (sigstore-go's root
// package links its TUF client; hallmark never calls it: trusted roots are
// files.)
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/Azure/azure-sdk-for-go", "cloud.google.com/", "github.com/aws/",
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/spf13/cobra",
	)
}
