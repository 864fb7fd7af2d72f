#!/usr/bin/env bash
# The guard's cost per Docker API call: two engines of the benchmark's own
# (each in its own network namespace), one behind `berth guard`, driven
# alternately in one run. Targets: p99 added latency under 1 ms; create
# rate with the guard at least 0.95x without. Needs root, dockerd, ip, nsenter.
# The engines keep their data on tmpfs (BENCH_TMPDIR, default /dev/shm) so
# that disk latency does not drown what is measured.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
out=${BERTH_BENCH_OUT:-/tmp/berth-guard-bench.txt}
TMPDIR=${BENCH_TMPDIR:-/dev/shm} BERTH_BENCH=1 BERTH_TEST_DOCKER=1 BERTH_BENCH_N=${N:-300} BERTH_BENCH_OUT=$out \
  go test -count=1 -run '^TestBenchGuard$' -timeout 20m ./e2e/ >/dev/null
cat "$out"
