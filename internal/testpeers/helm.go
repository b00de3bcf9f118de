package testpeers

import "testing"

// Helm v3.19 renders hallmark's chart in the end-to-end tests, and OPA v1.18
// evaluates the chart's Gatekeeper ConstraintTemplate. Each is a tool of its
// own module, tools/helm and tools/opa, so that their dependency graphs stay
// out of hallmark's go.mod.
var (
	helm = &tool{name: "helm", module: "helm", pkg: "helm.sh/helm/v3/cmd/helm"}
	opa  = &tool{name: "opa", module: "opa", pkg: "github.com/open-policy-agent/opa"}
)

// BuildHelm builds helm if the cache lacks it and returns the path of the
// binary. A helm in HALLMARK_TOOLS_BIN is used as it is; otherwise it is
// built under the user cache folder, keyed by tools/helm's go.mod and go.sum.
func BuildHelm() (string, error) { return helm.build() }

// BuildOPA is BuildHelm for opa, from tools/opa.
func BuildOPA() (string, error) { return opa.build() }

// HelmPath returns the path of the helm binary, building it if needed.
func HelmPath(t testing.TB) string {
	t.Helper()
	return helm.path(t)
}

// OPAPath returns the path of the opa binary, building it if needed.
func OPAPath(t testing.TB) string {
	t.Helper()
	return opa.path(t)
}
