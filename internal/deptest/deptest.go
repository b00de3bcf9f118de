// Package deptest keeps hallmark's layers apart: a package's test names the
// import paths it must never depend on, directly or not, and Check fails the
// test when `go list -deps` finds one, or finds a third-party cgo package.
// It is imported by tests only.
package deptest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Check lists the dependencies of pkgs (go list patterns, relative to the
// test's folder) and fails t for each whose import path starts with one of
// forbidden, or that is a cgo package outside the standard library (whose
// cgo, in net and os/user, is optional). The listed packages themselves are
// never reported.
func Check(t *testing.T, pkgs []string, forbidden ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	self, err := exec.Command("go", append([]string{"list", "-f", "{{.ImportPath}}"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", pkgs, err, self)
	}
	own := strings.Fields(string(self))
	out, err := exec.Command("go", append([]string{"list", "-deps", "-f", "{{.ImportPath}} {{if .CgoFiles}}cgo{{end}}"}, pkgs...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %v: %v\n%s", pkgs, err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, cgo, _ := strings.Cut(line, " ")
		if slices.Contains(own, pkg) {
			continue
		}
		for _, f := range forbidden {
			if strings.HasPrefix(pkg, f) {
				t.Errorf("%v depend on %s", own, pkg)
			}
		}
		if cgo == "cgo" && strings.Contains(pkg, ".") {
			t.Errorf("%v depend on cgo package %s", own, pkg)
		}
	}
}
