// Package admission decides whether a Kubernetes object may run, from the
// images it names: it finds every image of a Pod or of a workload's pod
// template, verifies them concurrently under one deadline with a Verifier
// (the verify.Engine, usually behind the cache), and returns one Decision
// under the admission Policy (deny or audit mode, namespace exclusions and
// per-namespace modes, image exemptions). It also pins tags to digests for
// the mutating webhook.
//
// This package holds the decision, not the transport: the subpackages
// webhook (Kubernetes AdmissionReview) and gatekeeper (Gatekeeper external
// data in Ratify's shape) are two encodings of the same verdicts, and
// contain no verification logic of their own.
//
// Admission fails closed: anything that is not a positive verification — an
// error, a timeout, a panic in a verifier, an object that cannot be read —
// is a failure. In deny mode a failure denies the request; audit mode is the
// only way to let an unverified image in, and it says so in warnings, audit
// annotations and logs.
package admission
