package testpeers

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Helm v3.19 renders hallmark's chart in the end-to-end tests, and OPA v1.18
// evaluates the chart's Gatekeeper ConstraintTemplate. Each is a tool of its
// own module, tools/helm and tools/opa, so that their dependency graphs stay
// out of hallmark's go.mod.
const (
	helmPackage = "helm.sh/helm/v3/cmd/helm"
	opaPackage  = "github.com/open-policy-agent/opa"
)

var (
	helmOnce, opaOnce sync.Once
	helmBin, opaBin   string
	helmErr, opaErr   error
)

// BuildHelm builds helm if the cache lacks it and returns the path of the
// binary. A helm in HALLMARK_TOOLS_BIN is used as it is; otherwise it is
// built under the user cache folder, keyed by tools/helm's go.mod and go.sum.
func BuildHelm() (string, error) {
	helmOnce.Do(func() { helmBin, helmErr = buildTool("helm", helmPackage, nil) })
	return helmBin, helmErr
}

// BuildOPA is BuildHelm for opa, from tools/opa.
func BuildOPA() (string, error) {
	opaOnce.Do(func() { opaBin, opaErr = buildTool("opa", opaPackage, nil) })
	return opaBin, opaErr
}

// buildTool returns HALLMARK_TOOLS_BIN/name if it exists, or builds pkg of
// the module tools/name into the cache, with env added to the go command's.
func buildTool(name, pkg string, env []string) (string, error) {
	if dir := os.Getenv("HALLMARK_TOOLS_BIN"); dir != "" {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p, nil
		}
	}
	dir, err := buildModule(filepath.Join(moduleRoot(), "tools", name), name+"-", map[string]string{name: pkg}, env)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
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

// OPAPath returns the path of the opa binary, building it if needed.
func OPAPath(t testing.TB) string {
	t.Helper()
	p, err := BuildOPA()
	if err != nil {
		t.Fatalf("test peers: opa: %v", err)
	}
	return p
}
