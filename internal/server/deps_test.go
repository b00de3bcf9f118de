package server

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the server a transport and nothing more: it must not
// reach into the packages it serves (the CLI wires them together), pull in
// Kubernetes client machinery or cloud SDKs, or need cgo.
func TestDependencies(t *testing.T) {
	deptest.Check(t, []string{"."},
		"github.com/hallmark-dev/hallmark/",
		"github.com/Azure/", "cloud.google.com/", "github.com/aws/",
		"k8s.io/client-go", "sigs.k8s.io/controller-runtime",
		"github.com/spf13/cobra",
	)
}
