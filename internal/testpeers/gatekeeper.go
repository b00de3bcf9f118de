package testpeers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Gatekeeper v3.21 runs in the end-to-end tests with hallmark as its
// external data provider, from its own module, tools/gatekeeper. The
// checksum database does not know that release, so its go.sum entries were
// taken from the module proxy (GONOSUMDB), as for Ratify's frameworks.
const gatekeeperModule = "github.com/open-policy-agent/gatekeeper/v3"

var gatekeeperEnv = []string{"GONOSUMDB=github.com/open-policy-agent/gatekeeper"}

var gatekeeper = &tool{name: "gatekeeper", module: "gatekeeper", pkg: gatekeeperModule, env: gatekeeperEnv}

// BuildGatekeeper builds Gatekeeper's manager if the cache lacks it and
// returns the path of the binary (HALLMARK_TOOLS_BIN/gatekeeper if present).
func BuildGatekeeper() (string, error) { return gatekeeper.build() }

// GatekeeperPath returns the path of the Gatekeeper binary, building it if
// needed.
func GatekeeperPath(t testing.TB) string {
	t.Helper()
	return gatekeeper.path(t)
}

// RatifyLibrary returns the path of Ratify's Gatekeeper policy library
// (library/, with the ConstraintTemplates Ratify's users apply, such as
// default/template.yaml) in the Ratify module that tools/ratify pins.
func RatifyLibrary(t testing.TB) string {
	t.Helper()
	return filepath.Join(moduleDir(t, "ratify", "github.com/ratify-project/ratify", ratifyBuildEnv), "library")
}

// moduleDir downloads module as tools/tool pins it and returns its folder
// in the module cache.
func moduleDir(t testing.TB, tool, module string, env []string) string {
	t.Helper()
	dir := filepath.Join(moduleRoot(), "tools", tool)
	download := exec.Command("go", "mod", "download", module)
	download.Dir = dir
	download.Env = append(os.Environ(), env...)
	if out, err := download.CombinedOutput(); err != nil {
		t.Fatalf("go mod download %s: %v\n%s", module, err, out)
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	list.Dir = dir
	out, err := list.Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go list -m %s in tools/%s: %v", module, tool, err)
	}
	return strings.TrimSpace(string(out))
}

// GatekeeperManifest returns the path of the release manifest
// (deploy/gatekeeper.yaml) in the Gatekeeper module that tools/gatekeeper
// pins, which holds Gatekeeper's CustomResourceDefinitions.
func GatekeeperManifest(t testing.TB) string {
	t.Helper()
	p := filepath.Join(moduleDir(t, "gatekeeper", gatekeeperModule, gatekeeperEnv), "deploy", "gatekeeper.yaml")
	if !fileExists(p) {
		t.Fatal(fmt.Errorf("gatekeeper manifest %s not found", p))
	}
	return p
}
