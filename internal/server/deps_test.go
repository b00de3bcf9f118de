package server

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/deptest"
)

// TestDependencies keeps the server a transport and nothing more: it must not
// reach into the packages it serves (the runtime wires them together), pull in
// Kubernetes client machinery or cloud SDKs, or need cgo. Of hallmark's own
// packages it may use only the leaf readers capped and certbundle.
func TestDependencies(t *testing.T) {
	const hm = "github.com/hallmark-dev/hallmark/internal/"
	deptest.Check(t, []string{"."},
		hm+"admission", hm+"audit", hm+"cache", hm+"cli", hm+"config",
		hm+"demo", hm+"keys", hm+"lease", hm+"oci", hm+"serve", hm+"signing",
		hm+"verify", hm+"envelope", hm+"devregistry", hm+"notationplugin",
		"github.com/hallmark-dev/hallmark/cmd",
		"github.com/Azure/", "cloud.google.com/", "github.com/aws/",
		"k8s.io/client-go", "sigs.k8s.io/controller-runtime",
		"github.com/spf13/cobra",
	)
}
