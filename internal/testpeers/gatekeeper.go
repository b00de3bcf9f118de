package testpeers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Gatekeeper v3.21 runs in the end-to-end tests with hallmark as its
// external data provider, from its own module, tools/gatekeeper. The
// checksum database does not know that release, so its go.sum entries were
// taken from the module proxy (GONOSUMDB), as for Ratify's frameworks.
const gatekeeperModule = "github.com/open-policy-agent/gatekeeper/v3"

var gatekeeperEnv = []string{"GONOSUMDB=github.com/open-policy-agent/gatekeeper"}

var (
	gatekeeperOnce sync.Once
	gatekeeperBin  string
	gatekeeperErr  error
)

// BuildGatekeeper builds Gatekeeper's manager if the cache lacks it and
// returns the path of the binary (HALLMARK_TOOLS_BIN/gatekeeper if present).
func BuildGatekeeper() (string, error) {
	gatekeeperOnce.Do(func() {
		if dir := os.Getenv("HALLMARK_TOOLS_BIN"); dir != "" {
			if p := filepath.Join(dir, "gatekeeper"); fileExists(p) {
				gatekeeperBin = p
				return
			}
		}
		var dir string
		dir, gatekeeperErr = buildModule(filepath.Join(moduleRoot(), "tools", "gatekeeper"), "gatekeeper-",
			map[string]string{"gatekeeper": gatekeeperModule}, gatekeeperEnv)
		gatekeeperBin = filepath.Join(dir, "gatekeeper")
	})
	return gatekeeperBin, gatekeeperErr
}

// GatekeeperPath returns the path of the Gatekeeper binary, building it if
// needed.
func GatekeeperPath(t testing.TB) string {
	t.Helper()
	p, err := BuildGatekeeper()
	if err != nil {
		t.Fatalf("test peers: gatekeeper: %v", err)
	}
	return p
}

// GatekeeperManifest returns the path of the release manifest
// (deploy/gatekeeper.yaml) in the Gatekeeper module that tools/gatekeeper
// pins, which holds Gatekeeper's CustomResourceDefinitions.
func GatekeeperManifest(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(moduleRoot(), "tools", "gatekeeper")
	download := exec.Command("go", "mod", "download", gatekeeperModule)
	download.Dir = dir
	download.Env = append(os.Environ(), gatekeeperEnv...)
	if out, err := download.CombinedOutput(); err != nil {
		t.Fatalf("go mod download %s: %v\n%s", gatekeeperModule, err, out)
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", gatekeeperModule)
	list.Dir = dir
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", gatekeeperModule, err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "deploy", "gatekeeper.yaml")
	if !fileExists(p) {
		t.Fatal(fmt.Errorf("gatekeeper manifest %s not found", p))
	}
	return p
}
