#!/usr/bin/env bash
# The deployment files, checked without a container engine (none runs here): linters from npm
# (dockerfile-utils for the Dockerfile, dclint with the Compose schema for the compose file)
# and from Debian (yamllint, shellcheck), each also run on a broken copy to prove it can fail,
# plus the facts the issue asks of the image and the Render Blueprint. TAP on stdout, ending
# with "# pass N" and "# fail N".
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_DIR=$ROOT/build/deploy-node
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

n=0 pass=0 fail=0
check() {  # description command...
    local description=$1 output
    shift
    n=$((n + 1))
    if output=$("$@" 2>&1); then
        pass=$((pass + 1)); echo "ok $n - $description"
    else
        fail=$((fail + 1)); echo "not ok $n - $description"; printf '%s\n' "$output" | sed 's/^/# /'
    fi
}
fails() { ! "$@"; }  # the linter must reject a broken file

mkdir -p "$NODE_DIR"
if [ ! -d "$NODE_DIR/node_modules" ] || ! cmp -s "$ROOT/test/deploy/package-lock.json" "$NODE_DIR/package-lock.json"; then
    cp "$ROOT/test/deploy/package.json" "$ROOT/test/deploy/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || { echo "Bail out! npm ci failed"; exit 1; }
fi
BIN=$NODE_DIR/node_modules/.bin
dockerfile_lint() { "$BIN/dockerfile-utils" lint "$1"; }
compose_lint() { "$BIN/dclint" -c "$ROOT/deploy/.dclintrc.yaml" --max-warnings 0 "$1"; }
yaml_lint() { yamllint -s -c "$ROOT/deploy/.yamllint.yaml" "$@"; }

DOCKERFILE=$ROOT/deploy/Dockerfile
COMPOSE=$ROOT/deploy/docker-compose.yml

# --- linters on the real files ---------------------------------------------------------------
check "Dockerfile passes dockerfile-utils lint" dockerfile_lint "$DOCKERFILE"
check "docker-compose.yml passes dclint (Compose schema and rules)" compose_lint "$COMPOSE"
check "compose file, render.yaml and linter configs pass yamllint" \
    yaml_lint "$COMPOSE" "$ROOT/render.yaml" "$ROOT/deploy/.dclintrc.yaml" "$ROOT/deploy/.yamllint.yaml"
check "entrypoint, Azure script and run.env writer pass shellcheck" \
    shellcheck -x "$ROOT/deploy/entrypoint.sh" "$ROOT/deploy/azure/deploy.sh" "$ROOT/test/support/run_env.sh"

# --- the same linters reject broken copies ----------------------------------------------------
sed 's/^RUN apt-get update/RUNN apt-get update/' "$DOCKERFILE" >"$SCRATCH/Dockerfile"
check "dockerfile-utils rejects an unknown instruction" fails dockerfile_lint "$SCRATCH/Dockerfile"
sed 's/^services:/servces:/' "$COMPOSE" >"$SCRATCH/compose-typo.yml"
check "dclint rejects a misspelt top-level key" fails compose_lint "$SCRATCH/compose-typo.yml"
sed 's/^    depends_on:$/    depends_on: db\n    depends_on:/' "$COMPOSE" >"$SCRATCH/compose-dup.yml"
check "yamllint rejects a duplicated key" fails yaml_lint "$SCRATCH/compose-dup.yml"
printf '#!/bin/sh\necho $1 | tr a b\n[ $x == 1 ]\n' >"$SCRATCH/bad.sh"
check "shellcheck rejects an unquoted, non-POSIX script" fails shellcheck "$SCRATCH/bad.sh"

# --- what the image must be --------------------------------------------------------------------
final_stage() { awk '/^FROM /{stage=$0; buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$DOCKERFILE"; }
check "two stages, both Debian bookworm" \
    test "$(grep -cE '^FROM debian:bookworm(-slim)? AS (build|runtime)$' "$DOCKERFILE")" = 2
check "the build stage compiles the extension and the bridge" \
    grep -qE 'make .*all.*&&|cmake --build .*mcp-bridge' "$DOCKERFILE"
check "the runtime stage installs PostgreSQL 15 and no compiler" \
    bash -c '[[ "$1" == *postgresql-15* ]] && ! grep -qE "build-essential|\\bg\\+\\+|\\bgcc\\b|\\bclang|\\bcmake\\b|-dev\\b" <<<"$1"' _ "$(final_stage)"
check "the runtime stage takes only built files from the build stage" \
    bash -c 'grep -q "^COPY --from=build /staging/ /" <<<"$1" && ! grep -qE "^COPY [^-]" <<<"$1"' _ "$(final_stage)"
check "nothing runs as root: the entrypoint drops to postgres before every command" \
    bash -c '! grep -qE "^USER" <<<"$1" && grep -q "exec setpriv --reuid=\"\$MCP_SERVER_USER\"" "$2" &&
             grep -q "init|metadata-db|bridge|demo) drop_privileges" "$2"' _ "$(final_stage)" "$ROOT/deploy/entrypoint.sh"
check "its HEALTHCHECK probes the bridge's /healthz" \
    bash -c 'grep -A1 "^HEALTHCHECK" "$1" | grep -q "/healthz"' _ "$DOCKERFILE"
check "the entrypoint and the demo data are in the image" \
    bash -c 'grep -q "deploy/entrypoint.sh" "$1" && grep -q "demo_dataset.sql" "$1"' _ "$DOCKERFILE"

# --- compose and Render: configuration by environment, secrets from files ----------------------
node_check() { NODE_PATH=$NODE_DIR/node_modules node -e "$1" "$2"; }
check "compose: a volume for the database, bridge replicas, the demo behind a profile, secrets as files" node_check '
    const yaml = require("yaml"); const fs = require("fs");
    const doc = yaml.parse(fs.readFileSync(process.argv[1], "utf8"));
    const s = doc.services, fail = (m) => { console.error(m); process.exit(1); };
    if (!s.db.volumes.some(v => v.startsWith("metadata:"))) fail("db has no volume");
    if (!String(s.bridge.deploy.replicas).includes("MCP_BRIDGE_REPLICAS")) fail("bridge replicas are fixed");
    if (!s.demo.profiles.includes("demo")) fail("demo is not optional");
    for (const [name, svc] of Object.entries(s)) {
        for (const [key, value] of Object.entries(svc.environment || {})) {
            if (/PASSWORD$|KEY$|SECRET$/.test(key)) fail(name + ": " + key + " holds a secret inline");
            if (/_FILE$/.test(key) && !String(value).startsWith("/run/secrets/")) fail(name + ": " + key + " is not a secret file");
        }
    }
    for (const secret of Object.values(doc.secrets)) if (!secret.file) fail("a secret without a file");
' "$COMPOSE"
check "render.yaml: a private database service with a disk, a web bridge probed on /healthz, secret files" node_check '
    const yaml = require("yaml"); const fs = require("fs");
    const doc = yaml.parse(fs.readFileSync(process.argv[1], "utf8"));
    const fail = (m) => { console.error(m); process.exit(1); };
    const db = doc.services.find(x => x.type === "pserv"), web = doc.services.find(x => x.type === "web");
    if (!db || !db.disk || db.disk.mountPath !== "/var/lib/mcp_analytics") fail("no private service with its disk");
    if (!web || web.healthCheckPath !== "/healthz") fail("no web service probed on /healthz");
    const link = web.envVars.find(e => e.key === "MCP_DB_HOST");
    if (!link || !link.fromService || link.fromService.name !== db.name) fail("the bridge does not find the database");
    for (const svc of doc.services) for (const e of svc.envVars)
        if (/_FILE$/.test(e.key) && !String(e.value).startsWith("/etc/secrets/")) fail(e.key + " is not a Render secret file");
    for (const svc of doc.services) if (!/^\.\/deploy\/Dockerfile$/.test(svc.dockerfilePath)) fail("another image");
' "$ROOT/render.yaml"

echo "1..$n"
echo "# pass $pass"
echo "# fail $fail"
[ "$fail" -eq 0 ]
