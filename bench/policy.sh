#!/usr/bin/env bash
# Policy evaluation rate: one spec judged by every built-in rule and ten CEL
# rules, on one core (-cpu 1). Target: 100,000 specs/s.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
go test -run '^$' -bench 'BenchmarkEvaluate$' -cpu 1 -benchtime 3s -count "${COUNT:-5}" ./internal/policy/
