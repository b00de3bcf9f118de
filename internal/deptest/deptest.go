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
// forbidden (or, for an entry ending in "$", is exactly it: a package whose
// subpackages are allowed), or that is a cgo package outside the standard
// library (whose cgo, in net and os/user, is optional). The listed packages
// themselves are never reported.
func Check(t *testing.T, pkgs []string, forbidden ...string) {
	t.Helper()
	check(t, pkgs, false, forbidden)
}

// CheckWithCgo is Check for the layers that link a cgo backend by design
// (the runtime reaches PKCS#11 tokens through keys/providers): only the
// forbidden paths are reported.
func CheckWithCgo(t *testing.T, pkgs []string, forbidden ...string) {
	t.Helper()
	check(t, pkgs, true, forbidden)
}

func check(t *testing.T, pkgs []string, cgoAllowed bool, forbidden []string) {
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
			if exact, ok := strings.CutSuffix(f, "$"); ok && pkg == exact || !ok && strings.HasPrefix(pkg, f) {
				t.Errorf("%v depend on %s", own, pkg)
			}
		}
		if !cgoAllowed && cgo == "cgo" && strings.Contains(pkg, ".") {
			t.Errorf("%v depend on cgo package %s", own, pkg)
		}
	}
}

// CheckImports fails t for each package that pkg (a go list pattern,
// relative to the test's folder) imports directly and whose import path is
// one of forbidden exactly: for a layer that may depend on a package
// through another but must not use it itself (the CLI reaches the
// admission handlers only through the runtime).
func CheckImports(t *testing.T, pkg string, forbidden ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", pkg, err, out)
	}
	for _, imp := range strings.Fields(string(out)) {
		if slices.Contains(forbidden, imp) {
			t.Errorf("%s imports %s", pkg, imp)
		}
	}
}
