package admission

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps admission and its encodings lean: they run in the
// admission server, so no cloud SDKs, no cgo, no Kubernetes client, and no
// arrow back out to the server or the CLI.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{".", "./webhook", "./gatekeeper", "./postbody"},
		"github.com/Azure/azure-sdk-for-go", "cloud.google.com/", "github.com/aws/",
		"k8s.io/client-go", "sigs.k8s.io/controller-runtime",
		"github.com/prometheus/",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/spf13/cobra",
	)
}
