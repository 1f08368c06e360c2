#!/usr/bin/env bash
# The dashboard's browser test: Debian's Chromium, driven by playwright-core, against the built
# mcp-bridge. Prints TAP (node's test runner); exits non-zero on any failure. Screenshots go
# to build/test-artifacts/ui/.
#
# Needs a running cluster with mcp_analytics installable (PGHOST, PGPORT, PGUSER) and
# MCP_DEMO_CONNINFO naming the demo panel with a password-authenticated role, as
# test/run_tests.sh provides. It creates the metadata database mcp_ui_test with an admin and a
# reader key, starts one bridge, runs test/ui/*.test.js, and stops the bridge.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
: "${PGHOST:?}" "${PGPORT:?}" "${MCP_DEMO_CONNINFO:?}"
export PGUSER=${PGUSER:-postgres}
# Registering through the form queues profiling, as in production (make test turns it off for
# the registry's own tests through PGOPTIONS; later settings win). The bridge inherits it.
export PGOPTIONS="${PGOPTIONS:-} -c mcp_analytics.profile_on_register=on"
DB=mcp_ui_test
BIN=${MCP_BRIDGE_BIN:-$ROOT/build/bridge/mcp-bridge}
CHROMIUM=${MCP_CHROMIUM:-/usr/bin/chromium}
ARTIFACTS=${TEST_ARTIFACTS:-$ROOT/build/test-artifacts}/ui
WORK=$(mktemp -d /tmp/mcp_ui_test.XXXXXX)
BRIDGE_PID=
cleanup() {
    if [ -n "$BRIDGE_PID" ] && kill -0 "$BRIDGE_PID" 2>/dev/null; then
        kill -TERM "$BRIDGE_PID"; wait "$BRIDGE_PID" 2>/dev/null
    fi
    mkdir -p "$ARTIFACTS"
    cp "$WORK/bridge.log" "$ARTIFACTS/mcp-bridge.log" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

bail() { echo "Bail out! $*"; exit 1; }
[ -x "$BIN" ] || bail "mcp-bridge is not built ($BIN)"
[ -x "$CHROMIUM" ] || bail "Chromium is missing ($CHROMIUM): apt-get install chromium"
UI_MODULES=$("$ROOT/test/ui/install.sh") || bail "npm ci of test/ui failed"
MCP_MODULES=$("$ROOT/test/mcp/install.sh") || bail "npm ci of test/mcp failed"

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
sql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null || bail "cannot create $DB"
sql -d "$DB" -c "CREATE EXTENSION mcp_analytics" >/dev/null || bail "cannot create the extension"
ADMIN_KEY=$(sql -d "$DB" -c "SELECT mcp.create_api_key('ui test admin', 'admin')")
READER_KEY=$(sql -d "$DB" -c "SELECT mcp.create_api_key('ui test reader', 'reader')")

MCP_BRIDGE_DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$DB user=$PGUSER" \
    "$BIN" --listen 127.0.0.1:0 >"$WORK/bridge.out" 2>"$WORK/bridge.log" &
BRIDGE_PID=$!
for _ in $(seq 1 100); do grep -q "listening on" "$WORK/bridge.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^mcp-bridge listening on //p' "$WORK/bridge.out")
[ -n "$URL" ] || bail "the bridge did not start: $(tail -5 "$WORK/bridge.log")"

rm -rf "$ARTIFACTS"; mkdir -p "$ARTIFACTS"
export NODE_PATH=$UI_MODULES:$MCP_MODULES
export MCP_UI_URL=$URL MCP_UI_DB=$DB MCP_UI_ADMIN_KEY=$ADMIN_KEY MCP_UI_READER_KEY=$READER_KEY
export MCP_UI_CHROMIUM=$CHROMIUM MCP_UI_ARTIFACTS=$ARTIFACTS MCP_UI_BRIDGE_LOG=$WORK/bridge.log
node --test --test-reporter=tap --test-concurrency=1 test/ui/*.test.js
