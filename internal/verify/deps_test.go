package verify

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps verify small and portable: it runs inside the
// admission server, so it must not pull in cloud SDKs, cgo, or the layers
// that call it (the arrow points inward only).
func TestDependencies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list unavailable: %v\n%s", err, out)
	}
	forbidden := []string{
		// go-ldap (needed to read trusted identities, as notation-go does)
		// brings github.com/Azure/go-ntlmssp, which is not a cloud SDK.
		"github.com/Azure/azure-sdk-for-go", "cloud.google.com/", "github.com/aws/",
		"github.com/hallmark-dev/hallmark/internal/admission",
		"github.com/hallmark-dev/hallmark/internal/server",
		"github.com/hallmark-dev/hallmark/internal/cli",
		"github.com/hallmark-dev/hallmark/internal/keys",
		"github.com/spf13/cobra",
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("verify depends on %s", pkg)
			}
		}
		// The standard library's cgo (net, os/user) is optional; a
		// third-party cgo package is not.
		if cgo == "cgo" && strings.Contains(pkg, ".") {
			t.Errorf("verify depends on cgo package %s", pkg)
		}
	}
}
