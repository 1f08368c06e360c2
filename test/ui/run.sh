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
CHROMIUM=${MCP_CHROMIUM:-/usr/bin/chromium}
ARTIFACTS=${TEST_ARTIFACTS:-$ROOT/build/test-artifacts}/ui
# shellcheck source=../support/bridge_fixture.sh
. "$ROOT/test/support/bridge_fixture.sh"
fixture_begin mcp_ui_test "$ARTIFACTS/mcp-bridge.log"
[ -x "$CHROMIUM" ] || bail "Chromium is missing ($CHROMIUM): apt-get install chromium"
UI_MODULES=$("$ROOT/test/ui/install.sh") || bail "npm ci of test/ui failed"
MCP_MODULES=$("$ROOT/test/mcp/install.sh") || bail "npm ci of test/mcp failed"
fixture_database "ui test"
fixture_start_bridge

rm -rf "$ARTIFACTS"; mkdir -p "$ARTIFACTS"
export NODE_PATH=$UI_MODULES:$MCP_MODULES
export MCP_UI_URL=$URL MCP_UI_DB=$DB MCP_UI_ADMIN_KEY=$ADMIN_KEY MCP_UI_READER_KEY=$READER_KEY
export MCP_UI_CHROMIUM=$CHROMIUM MCP_UI_ARTIFACTS=$ARTIFACTS MCP_UI_BRIDGE_LOG=$WORK/bridge.log
node --test --test-reporter=tap --test-concurrency=1 test/ui/*.test.js
