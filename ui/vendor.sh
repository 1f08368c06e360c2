#!/usr/bin/env bash
# Build step of mcp-bridge: copies the dashboard's browser libraries, pinned by
# test/ui/package-lock.json and installed by npm ci, into OUT_DIR for embedding. Nothing is
# fetched from a CDN at run time. Without npm (an offline build) it warns and copies nothing:
# the bridge then serves the dashboard without JavaScript, which every read-only page supports.
#
#   ui/vendor.sh OUT_DIR NODE_DIR
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:?OUT_DIR}
NODE_DIR=${2:?NODE_DIR}
mkdir -p "$OUT"
rm -f "$OUT"/*.js "$OUT"/*.css
if ! modules=$(MCP_UI_NODE_DIR=$NODE_DIR "$ROOT/test/ui/install.sh"); then
    echo "warning: npm ci for the dashboard's libraries failed; the dashboard will work without JavaScript only" >&2
    echo missing >"$OUT/stamp"
    exit 0
fi
cp "$modules/htmx.org/dist/htmx.min.js" "$OUT/htmx.min.js" &&
cp "$modules/@alpinejs/csp/dist/cdn.min.js" "$OUT/alpine-csp.min.js" &&
cp "$modules/uplot/dist/uPlot.iife.min.js" "$OUT/uPlot.iife.min.js" &&
cp "$modules/uplot/dist/uPlot.min.css" "$OUT/uPlot.min.css" || {
    echo "warning: a dashboard library is missing from $modules" >&2
}
echo "copied from $modules" >"$OUT/stamp"
exit 0
