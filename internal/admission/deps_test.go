package admission

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps admission and its encodings lean: they run in the
// admission server, so no cloud SDKs, no cgo, no Kubernetes client, and no
// arrow back out to the server or the CLI.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".", "./webhook", "./gatekeeper").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/Azure/azure-sdk-for-go", "cloud.google.com/", "github.com/aws/",
		"k8s.io/client-go", "sigs.k8s.io/controller-runtime",
		"github.com/prometheus/",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/hallmark-dev/hallmark/internal/config",
		"github.com/spf13/cobra",
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("admission depends on %s", pkg)
			}
		}
		if cgo == "cgo" && strings.Contains(pkg, ".") {
			t.Errorf("admission depends on cgo package %s", pkg)
		}
	}
}
