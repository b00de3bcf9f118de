#!/usr/bin/env bash
# Compares `hallmark serve` with Ratify v1.4.6 as Gatekeeper external-data
# providers: same distribution registry process, same signed images, same
# load (ProviderRequests of 10 keys, 8 concurrent clients), one server after
# the other. Prints the machine and a Markdown table for docs/benchmarks.md.
#
#   bash bench/ratify.sh                      # from the repository root
#   IMAGES=10000 WARM_ROUNDS=3 bash bench/ratify.sh   # distinct images (default 1000), warm rounds (20)
#   SERVERS=hallmark bash bench/ratify.sh     # one server only
#   CACHE_ENTRIES=20000 bash bench/ratify.sh  # hallmark's cache.maxEntries
#   LOG_LEVEL=info SERVERS=hallmark bash bench/ratify.sh  # hallmark at its default log level (warn otherwise, as Ratify runs)
#
# The first run builds Ratify (minutes); later runs reuse the build cache.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
HALLMARK_BENCH_RATIFY=1 \
HALLMARK_BENCH_IMAGES="${IMAGES:-1000}" \
HALLMARK_BENCH_WARM_ROUNDS="${WARM_ROUNDS:-20}" \
HALLMARK_BENCH_SERVERS="${SERVERS:-hallmark,ratify}" \
HALLMARK_BENCH_CACHE_ENTRIES="${CACHE_ENTRIES:-}" \
HALLMARK_BENCH_LOG_LEVEL="${LOG_LEVEL:-warn}" \
  go test -count 1 -run '^TestRatifyComparison$' -v -timeout 60m ./bench
