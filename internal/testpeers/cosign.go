package testpeers

import "testing"

// cosign v2.6.5 is the Sigstore signing CLI that hallmark's cosign
// verification must interoperate with. It is a tool of its own module,
// tools/cosign, so that its large dependency graph (cloud KMS SDKs, the
// Kubernetes client) neither enters hallmark's go.mod nor changes the cache
// key of the tools in tools/go.mod.
var cosign = &tool{name: "cosign", module: "cosign", pkg: "github.com/sigstore/cosign/v2/cmd/cosign"}

// BuildCosign builds cosign if the cache lacks it and returns the path of the
// binary. A cosign in HALLMARK_TOOLS_BIN is used as it is; otherwise it is
// built under the user cache folder, keyed by tools/cosign's go.mod and
// go.sum.
func BuildCosign() (string, error) { return cosign.build() }

// CosignPath returns the path of the cosign binary, building it if needed.
func CosignPath(t testing.TB) string {
	t.Helper()
	return cosign.path(t)
}
