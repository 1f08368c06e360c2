#!/usr/bin/env bash
# Installs the pinned npm packages of test/mcp (package-lock.json) into build/mcp-node, outside
# the source tree, when they are missing or the lockfile changed. Prints the node_modules path.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_DIR=$ROOT/build/mcp-node
mkdir -p "$NODE_DIR"
if [ ! -d "$NODE_DIR/node_modules" ] || ! cmp -s "$ROOT/test/mcp/package-lock.json" "$NODE_DIR/package-lock.json"; then
    cp "$ROOT/test/mcp/package.json" "$ROOT/test/mcp/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
echo "$NODE_DIR/node_modules"
