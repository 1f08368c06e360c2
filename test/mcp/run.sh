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
# shellcheck source=../support/bridge_fixture.sh
. "$ROOT/test/support/bridge_fixture.sh"
fixture_begin mcp_bridge_test "$ROOT/build/test-artifacts/mcp-bridge.log"
NODE_MODULES=$("$ROOT/test/mcp/install.sh") || bail "npm ci failed"
fixture_database "node tests"
fixture_start_bridge

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
# MCP_TEST_FILES="test/mcp/x.test.js ..." runs only those (while working on one).
node --test --test-reporter=tap --test-concurrency=1 ${MCP_TEST_FILES:-$files test/mcp/zz_*.test.js}
