package testpeers

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Helm v3.19 renders hallmark's chart in the end-to-end tests. It is a tool
// of its own module, tools/helm, so that its dependency graph (Kubernetes
// libraries, OCI and template libraries) stays out of hallmark's go.mod.
const helmPackage = "helm.sh/helm/v3/cmd/helm"

var (
	helmOnce sync.Once
	helmBin  string
	helmErr  error
)

// BuildHelm builds helm if the cache lacks it and returns the path of the
// binary. A helm in HALLMARK_TOOLS_BIN is used as it is; otherwise it is
// built under the user cache folder, keyed by tools/helm's go.mod and go.sum.
func BuildHelm() (string, error) {
	helmOnce.Do(func() {
		if dir := os.Getenv("HALLMARK_TOOLS_BIN"); dir != "" {
			if p := filepath.Join(dir, "helm"); fileExists(p) {
				helmBin = p
				return
			}
		}
		dir, err := buildModule(filepath.Join(moduleRoot(), "tools", "helm"), "helm-",
			map[string]string{"helm": helmPackage}, nil)
		if err != nil {
			helmErr = err
			return
		}
		helmBin = filepath.Join(dir, "helm")
	})
	return helmBin, helmErr
}

// HelmPath returns the path of the helm binary, building it if needed.
func HelmPath(t testing.TB) string {
	t.Helper()
	p, err := BuildHelm()
	if err != nil {
		t.Fatalf("test peers: helm: %v", err)
	}
	return p
}
