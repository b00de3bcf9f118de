#!/usr/bin/env bash
# Measures `hallmark serve`'s memory with every verdict cached: N distinct
# signed images in one distribution registry process, verification.cache
# .maxEntries N, Gatekeeper provider requests of 10 keys from 8 concurrent
# clients; VmRSS/VmHWM and the Go heap at each checkpoint. Prints the
# machine and a Markdown table for docs/benchmarks.md.
#
#   bash bench/memory.sh                         # 100,000 images, checkpoints 20,000 and 50,000
#   IMAGES=20000 CHECKPOINTS=5000,10000 bash bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)"
HALLMARK_BENCH_MEM=1 \
HALLMARK_BENCH_IMAGES="${IMAGES:-100000}" \
HALLMARK_BENCH_CHECKPOINTS="${CHECKPOINTS:-20000,50000}" \
  go test -count 1 -run '^TestMemory$' -v -timeout 120m ./bench
