// Package bench holds hallmark's benchmarks that span packages: signing and
// verifying one image against the embedded registry on loopback. The
// whole-process comparison with the notation CLI is cli.sh beside this file;
// the comparison of `hallmark serve` with Ratify v1.4.6 as a Gatekeeper
// provider is TestRatifyComparison, run by ratify.sh (it needs
// HALLMARK_BENCH_RATIFY=1, so `go test ./...` skips it), which also measures
// the registry-bound ceiling with a client that makes a cold verification's
// registry requests and verifies nothing. TestRoundTrips, run by
// roundtrips.sh (HALLMARK_BENCH_RTT=1), counts cold latency in registry round
// trips through a proxy that delays every byte. TestMemory, run by memory.sh
// (HALLMARK_BENCH_MEM=1), measures `hallmark serve`'s resident memory with
// N distinct signed images cached.
// Results, with the command and the machine, go in docs/benchmarks.md.
package bench
