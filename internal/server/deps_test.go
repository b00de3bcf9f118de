package server

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the server a transport and nothing more: it must not
// reach into the packages it serves (the CLI wires them together), pull in
// Kubernetes client machinery or cloud SDKs, or need cgo.
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v\n%s", err, out)
	}
	const self = "github.com/hallmark-dev/hallmark/internal/server"
	forbidden := []string{
		"github.com/hallmark-dev/hallmark/",
		"github.com/Azure/", "cloud.google.com/", "github.com/aws/",
		"k8s.io/client-go", "sigs.k8s.io/controller-runtime",
		"github.com/spf13/cobra",
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		if pkg == self {
			continue
		}
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("server depends on %s", pkg)
			}
		}
		// The standard library's cgo (net, os/user) is optional; a
		// third-party cgo package is not.
		if cgo == "cgo" && strings.Contains(pkg, ".") {
			t.Errorf("server depends on cgo package %s", pkg)
		}
	}
}
