#!/usr/bin/env bash
# Cold latency in registry round trips: `hallmark serve` and Ratify v1.4.6
# verify fresh images one request at a time through a proxy that delays
# every byte DELAY each way (default 10ms) in front of a distribution
# registry. Prints a Markdown table for docs/benchmarks.md.
#
#   bash bench/roundtrips.sh                  # from the repository root
#   DELAY=25ms SERVERS=hallmark bash bench/roundtrips.sh
#   AUTH=token SERVERS=hallmark bash bench/roundtrips.sh   # registry with token authentication
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
HALLMARK_BENCH_RTT=1 \
HALLMARK_BENCH_DELAY="${DELAY:-10ms}" \
HALLMARK_BENCH_SERVERS="${SERVERS:-hallmark,ratify}" \
HALLMARK_BENCH_AUTH="${AUTH:-}" \
  go test -count 1 -run '^TestRoundTrips$' -v -timeout 20m ./bench
