#!/usr/bin/env bash
# Benchmark of mcp-bridge on a throwaway cluster and a bridge of its own (never what `make run`
# started): tools/call execute_query('SELECT 1') from a raw keep-alive HTTP client
# (bridge/bench/http_roundtrip.cpp) and from the official SDK client (bridge_bench.js), beside
# plain libpq round trips measured in the same run, and the peer (the reference PostgreSQL MCP
# server from npm) over stdio beside mcp-bridge --stdio, and over HTTP behind supergateway. Prints figures; never fails on a timing.
# BENCH_SECONDS (default 5) sets the length of each measurement.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench_cluster.sh
. "$ROOT/test/bench/bench_cluster.sh"
cmake -S "$ROOT/bridge" -B "$ROOT/build/bridge" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$ROOT/build/bridge" --target pg_roundtrip http_roundtrip mcp-bridge -j2 >/dev/null

bench_cluster_start mcp_bridge_bench 55800
bench_load_demo 1  # 20,000 panelists, as in the issue's figures
ID=$(bench_register mcp_bridge_bench bench_demo)
bench_sql -d mcp_bridge_bench -c "SELECT count(mcp.set_dataset_status($ID, s)) FROM unnest(ARRAY['profiling', 'metadata_pending', 'approved']) s" >/dev/null
KEY=$(bench_sql -d mcp_bridge_bench -c "SELECT mcp.create_api_key('bridge bench', 'admin')")

BRIDGE_PID=
trap '[ -n "$BRIDGE_PID" ] && kill -TERM "$BRIDGE_PID" 2>/dev/null && wait "$BRIDGE_PID" 2>/dev/null;
      "$BENCH_SUPPORT/pg_cluster.sh" stop "$WORK"; rm -rf "$WORK"' EXIT
DB_URL="host=$PGHOST port=$PORT dbname=mcp_bridge_bench user=postgres"
MCP_BRIDGE_DATABASE_URL=$DB_URL "$ROOT/build/bridge/mcp-bridge" --listen 127.0.0.1:0 \
    >"$WORK/bridge.out" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/bridge.out" 2>/dev/null && break; sleep 0.1; done
BRIDGE_URL=$(sed -n 's/^mcp-bridge listening on //p' "$WORK/bridge.out")
[ -n "$BRIDGE_URL" ] || { echo "bridge_bench: the bridge did not start" >&2; tail -5 "$WORK/bridge.log" >&2; exit 1; }

NODE_PATH=$("$ROOT/test/mcp/install.sh")
export NODE_PATH
export MCP_URL=$BRIDGE_URL/mcp MCP_API_KEY=$KEY BENCH_DATASET_ID=$ID
export PG_ROUNDTRIP_BIN=$ROOT/build/bridge/pg_roundtrip HTTP_ROUNDTRIP_BIN=$ROOT/build/bridge/http_roundtrip
# The same way in as the bridge's own: the metadata database over its socket, as postgres.
export BENCH_PG_URL=$DB_URL
# The peer reads the dataset as its reader, over TCP as mcp_analytics does.
BENCH_NODE_MODULES=$(bench_node_modules)
PEER_SERVER_JS=$BENCH_NODE_MODULES/@modelcontextprotocol/server-postgres/dist/index.js
export PEER_SERVER_JS BRIDGE_BIN=$ROOT/build/bridge/mcp-bridge GATEWAY_JS=$BENCH_NODE_MODULES/supergateway/dist/index.js
export PEER_DATABASE_URL="postgresql://mcp_demo_reader:$PASSWORD@127.0.0.1:$PORT/mcp_demo"
echo "bridge benchmark: PostgreSQL $(psql -X -At -d postgres -c 'SHOW server_version'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# --no-warnings: the SDK client adds an abort listener per request to one signal and warns.
node --no-warnings "$ROOT/test/bench/bridge_bench.js"
echo "bridge phases over the whole run (mcp_bridge_phase_seconds in /metrics; the tool calls at 16"
echo "connections wait for one of the 8 pooled database connections inside sql_call):"
curl -sf "$BRIDGE_URL/metrics" | awk '
    /^mcp_bridge_phase_seconds_sum/   { match($0, /phase="[a-z_]+"/); p = substr($0, RSTART + 7, RLENGTH - 8); sum[p] = $2 }
    /^mcp_bridge_phase_seconds_count/ { match($0, /phase="[a-z_]+"/); p = substr($0, RSTART + 7, RLENGTH - 8); count[p] = $2 }
    END { for (p in count) if (count[p] > 0) printf "  %-12s %8d requests, mean %9.1f us\n", p, count[p], 1e6 * sum[p] / count[p] }' | sort
