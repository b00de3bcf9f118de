// Package cosign verifies Sigstore signatures made by cosign, the second
// signature format hallmark admits beside Notary Project signatures.
//
// It finds signatures where cosign stores them, through hallmark's own
// registry client (internal/oci): the sha256-<hex>.sig tag of simple-signing
// signatures (cosign v2's default) and Sigstore bundles attached as OCI
// referrers (cosign v3's default, and cosign v2 with --new-bundle-format),
// including the referrers tag index that stands in for the referrers API on
// registries without it. It checks them with sigstore-go: against public
// keys (keyed), or against a certificate identity and OIDC issuer with
// Fulcio roots, Rekor transparency-log entries and signed timestamps from a
// trusted root JSON file (keyless). Nothing is fetched from the network
// other than the registry: the trusted root is a file.
//
// The outcome is a verify.Result, the same type the Notary Project engine
// returns, with a reason a person can act on for every failure.
package cosign
