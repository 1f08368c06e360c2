#!/usr/bin/env bash
# `make bench`: every benchmark, one after another (they share 2 cores: never in parallel).
# BENCH_QUICK=1 shrinks the data (SCALE=10) and the rounds for a fast look.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BENCH=$ROOT/test/bench
if [ "${BENCH_QUICK:-0}" = 1 ]; then export SCALE=${SCALE:-10} ROUNDS=${ROUNDS:-300} REPS=${REPS:-3} BENCH_SECONDS=${BENCH_SECONDS:-2}; fi

status=0
# Each benchmark appends its headline figures here; the report at the end prints them.
export BENCH_REPORT
BENCH_REPORT=$(mktemp /tmp/mcp_bench_report.XXXXXX)
trap 'rm -f "$BENCH_REPORT"' EXIT
run() {  # title script...
    local title=$1; shift
    printf '\n######## %s\n' "$title"
    "$@" || { echo "(benchmark '$title' did not complete)"; status=1; }
}
run "query execution (issue: safe, fast query execution)" "$BENCH/query_bench.sh"
run "profiling (issue: background profiling)" "$BENCH/profiler_bench.sh"
run "weighted reach (issue: weighted panel analytics)" "$BENCH/weighting_bench.sh"
run "bridge tools/call (issue: mcp-bridge; issue 12: speed)" "$BENCH/bridge_bench.sh"
"$BENCH/report.sh" "$BENCH_REPORT"
exit $status
