#!/usr/bin/env bash
# The MCP client tests: the official TypeScript SDK client and the MCP Inspector CLI against
# the built mcp-bridge. Prints TAP (node's test runner); exits non-zero on any failure.
#
# Needs a running cluster with mcp_analytics installable (PGHOST, PGPORT, PGUSER), and
# MCP_DEMO_CONNINFO naming the demo panel with a password-authenticated role (as
# test/run_tests.sh provides). It creates the metadata database mcp_bridge_test, API keys,
# starts one bridge for all test files, registers and approves the demo dataset through the
# REST API, runs test/mcp/*.test.js one file after another, and stops the bridge.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
: "${PGHOST:?}" "${PGPORT:?}" "${MCP_DEMO_CONNINFO:?}"
export PGUSER=${PGUSER:-postgres}
# The product's own flow: registering a dataset queues its profiling (make test turns that off
# for the registry's tests through PGOPTIONS; later settings win).
export PGOPTIONS="${PGOPTIONS:-} -c mcp_analytics.profile_on_register=on"
DB=mcp_bridge_test
BIN=${MCP_BRIDGE_BIN:-$ROOT/build/bridge/mcp-bridge}
WORK=$(mktemp -d /tmp/mcp_bridge_node.XXXXXX)
BRIDGE_PID=
cleanup() {
    if [ -n "$BRIDGE_PID" ] && kill -0 "$BRIDGE_PID" 2>/dev/null; then
        kill -TERM "$BRIDGE_PID"; wait "$BRIDGE_PID" 2>/dev/null
    fi
    mkdir -p "$ROOT/build/test-artifacts"
    cp "$WORK/bridge.log" "$ROOT/build/test-artifacts/mcp-bridge.log" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

bail() { echo "Bail out! $*"; exit 1; }
[ -x "$BIN" ] || bail "mcp-bridge is not built ($BIN)"
NODE_MODULES=$("$ROOT/test/mcp/install.sh") || bail "npm ci failed"

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
sql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null || bail "cannot create $DB"
sql -d "$DB" -c "CREATE EXTENSION mcp_analytics" >/dev/null || bail "cannot create the extension"
ADMIN_KEY=$(sql -d "$DB" -c "SELECT mcp.create_api_key('node tests admin', 'admin')")
READER_KEY=$(sql -d "$DB" -c "SELECT mcp.create_api_key('node tests reader', 'reader')")
DB_URL="host=$PGHOST port=$PGPORT dbname=$DB user=$PGUSER"

MCP_BRIDGE_DATABASE_URL=$DB_URL "$BIN" --listen 127.0.0.1:0 >"$WORK/bridge.out" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/bridge.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^mcp-bridge listening on //p' "$WORK/bridge.out")
[ -n "$URL" ] || bail "the bridge did not start: $(tail -5 "$WORK/bridge.log")"

# The demo dataset, registered and approved the way an admin's client would.
body=$(DEMO="$MCP_DEMO_CONNINFO" node -e 'console.log(JSON.stringify({name: "demo_panel", connection_string: process.env.DEMO, description: "Synthetic smartphone and connected-TV panel"}))')
DATASET_ID=$(curl -sf -H "Authorization: Bearer $ADMIN_KEY" -H 'Content-Type: application/json' \
    -d "$body" "$URL/api/datasets" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))') \
    || bail "registering the demo dataset failed"
# Profiling runs in the background workers.
for _ in $(seq 1 300); do
    status=$(sql -d "$DB" -c "SELECT status FROM mcp.dataset($DATASET_ID)")
    [ "$status" = metadata_pending ] && break
    sleep 0.1
done
[ "$status" = metadata_pending ] || bail "the demo dataset was not profiled (status $status)"
curl -sf -X PATCH -H "Authorization: Bearer $ADMIN_KEY" "$URL/api/datasets/$DATASET_ID/approve" >/dev/null \
    || bail "approving the demo dataset failed"

export NODE_PATH=$NODE_MODULES
export MCP_INSPECTOR_BIN=$NODE_MODULES/.bin/mcp-inspector
export MCP_BRIDGE_BIN=$BIN MCP_TEST_URL=$URL MCP_TEST_DB=$DB MCP_TEST_DB_URL=$DB_URL
export MCP_TEST_BRIDGE_LOG=$WORK/bridge.log MCP_TEST_ADMIN_KEY=$ADMIN_KEY MCP_TEST_READER_KEY=$READER_KEY MCP_TEST_DATASET_ID=$DATASET_ID
# One file at a time: some change what the others see (datasets, keys, a database restart last).
files=$(ls test/mcp/*.test.js | grep -v zz_)
node --test --test-reporter=tap --test-concurrency=1 $files test/mcp/zz_*.test.js
