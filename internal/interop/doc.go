// Package interop holds hallmark's end-to-end interoperability tests: the
// hallmark binary against the real notation CLI (v1.3.2) through real
// registries, both the distribution registry process (no referrers API, so
// signatures go through the referrers tag schema) and the embedded
// go-containerregistry registry with the referrers API on.
//
// The package has no non-test code beyond this comment; `go test -short`
// skips it.
package interop
