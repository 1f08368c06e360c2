#!/usr/bin/env bash
# Runs the bridge benchmark against what `make run` started (.data/run.env: MCP_URL,
# MCP_API_KEY, PGHOST/PGPORT of the metadata database). Prints figures; never fails on a
# timing. BENCH_SECONDS (default 5) sets the length of each measurement.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ENV_FILE=${MCP_RUN_ENV:-$ROOT/.data/run.env}
[ -f "$ENV_FILE" ] || { echo "bridge_bench: $ENV_FILE is missing: run make run first" >&2; exit 2; }
set -a
# shellcheck disable=SC1090
. "$ENV_FILE"
set +a
[ -n "${MCP_API_KEY:-}" ] || { echo "bridge_bench: no MCP_API_KEY in $ENV_FILE (make run writes one)" >&2; exit 2; }
cmake -S "$ROOT/bridge" -B "$ROOT/build/bridge" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build/bridge" --target pg_roundtrip mcp-bridge -j2 >/dev/null
NODE_PATH=$("$ROOT/test/mcp/install.sh")
export NODE_PATH
export PG_ROUNDTRIP_BIN=$ROOT/build/bridge/pg_roundtrip
# The same way in as the bridge's own: the metadata database over its socket, as postgres.
export BENCH_PG_URL=${BENCH_PG_URL:-"host=$PGHOST port=$PGPORT dbname=${PGDATABASE:-mcp_analytics} user=${PGUSER:-postgres}"}
# --no-warnings: the SDK client adds an abort listener per request to one signal and warns.
exec node --no-warnings "$ROOT/test/bench/bridge_bench.js"
