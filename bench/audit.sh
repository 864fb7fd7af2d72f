#!/usr/bin/env bash
# berth audit on one engine with 500 running containers and 200 images (an
# engine of the benchmark's own in a network namespace, data on tmpfs).
# Target: under 3 s wall. Knobs: CONTAINERS, IMAGES. Needs root, dockerd,
# ip, nsenter.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
out=${BERTH_BENCH_OUT:-/tmp/berth-audit-bench.txt}
TMPDIR=${BENCH_TMPDIR:-/dev/shm} BERTH_BENCH=1 BERTH_TEST_DOCKER=1 \
  BERTH_BENCH_CONTAINERS=${CONTAINERS:-500} BERTH_BENCH_IMAGES=${IMAGES:-200} BERTH_BENCH_OUT=$out \
  go test -count=1 -run '^TestBenchAudit$' -timeout 30m ./e2e/ >/dev/null
cat "$out"
