#!/usr/bin/env bash
# Installs the pinned npm packages of test/ui (package-lock.json) into build/ui-node, outside
# the source tree, when they are missing or the lockfile changed; prints the node_modules
# path. The bridge's build copies htmx, Alpine.js and uPlot from there (ui/vendor.sh); the
# browser test drives Chromium with playwright-core from there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_DIR=${MCP_UI_NODE_DIR:-$ROOT/build/ui-node}
mkdir -p "$NODE_DIR"
if [ ! -d "$NODE_DIR/node_modules" ] || ! cmp -s "$ROOT/test/ui/package-lock.json" "$NODE_DIR/package-lock.json"; then
    rm -f "$NODE_DIR/package-lock.json"
    cp "$ROOT/test/ui/package.json" "$ROOT/test/ui/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error --fetch-retries=1 >&2) || {
        rm -f "$NODE_DIR/package-lock.json"  # so that the next run tries again
        exit 1
    }
fi
echo "$NODE_DIR/node_modules"
