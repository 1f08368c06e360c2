#!/usr/bin/env bash
# The soak suite (make soak; its short form in make test): starts PostgreSQL with the demo
# panel and a metadata database the way `make run` does (this tree's build, in its private
# copy of the PostgreSQL installation), registers, profiles and approves the demo, makes an
# admin key, and runs test/soak/soak.js, which starts the bridges and runs the phases. Prints
# TAP and a table of figures; everything it starts is stopped on exit.
#
#   SOAK_MODE=short   about 90 s (make test)        SOAK_MODE=full   about 2½ minutes (make soak)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
export SOAK_MODE=${SOAK_MODE:-short}
bail() { echo "Bail out! $*"; exit 1; }
# shellcheck source=../bench/bench_cluster.sh
. "$ROOT/test/bench/bench_cluster.sh"

[ -x "$ROOT/build/bridge/mcp-bridge" ] || bail "mcp-bridge is not built"
NODE_PATH=$("$ROOT/test/mcp/install.sh") || bail "npm ci failed"
export NODE_PATH
bench_cluster_start mcp_soak 55700 >/dev/null || bail "could not start PostgreSQL"
# Tight bounds on dataset connections and statements, so faults show within seconds.
bench_sql -d postgres -c "ALTER SYSTEM SET mcp_analytics.connect_timeout = '3s'" \
    -c "ALTER SYSTEM SET mcp_analytics.statement_timeout = '3s'" \
    -c "ALTER SYSTEM SET mcp_analytics.breaker_failures = 3" -c "SELECT pg_reload_conf()" >/dev/null
bench_load_demo 1 || bail "could not load the demo panel"
DATASET_ID=$(bench_register mcp_soak demo_panel) || bail "could not register the demo panel"
bench_sql -d mcp_soak -c "SELECT mcp.reprofile_dataset($DATASET_ID)" \
    -c "SELECT mcp.wait_for_jobs($DATASET_ID, '300 seconds')" \
    -c "SELECT mcp.approve_dataset($DATASET_ID, 'soak')" >/dev/null || bail "could not approve the demo panel"
ADMIN_KEY=$(bench_sql -d mcp_soak -c "SELECT mcp.create_api_key('soak admin', 'admin')") || bail "no key"

ARTIFACTS=${TEST_ARTIFACTS:-$ROOT/build/test-artifacts}/soak
mkdir -p "$ARTIFACTS"
export MCP_BRIDGE_BIN=$ROOT/build/bridge/mcp-bridge MCP_SOAK_DB=mcp_soak MCP_SOAK_KEY=$ADMIN_KEY \
    MCP_SOAK_DATASET_ID=$DATASET_ID MCP_SOAK_DEMO_PASSWORD=$PASSWORD MCP_SOAK_DEMO_CONNINFO=$CONNINFO \
    MCP_SOAK_CLUSTER=$WORK MCP_SOAK_ARTIFACTS=$ARTIFACTS
# Profiling on registration, as in production.
export PGOPTIONS="${PGOPTIONS:-} -c mcp_analytics.profile_on_register=on"
node --no-warnings "$ROOT/test/soak/soak.js"
