# Sourced by the Node suites (test/mcp/run.sh, test/ui/run.sh): a metadata database of their
# own with an admin and a reader key, and one mcp-bridge serving it, stopped on exit.
#
#   fixture_begin DB BRIDGE_LOG_COPY   sets DB, BIN, WORK, bail, sql; the exit trap stops the
#                                      bridge and keeps its log as BRIDGE_LOG_COPY
#   fixture_database KEY_LABEL         (re)creates DB with the extension; sets ADMIN_KEY, READER_KEY
#   fixture_start_bridge               starts the bridge on a free port; sets URL, DB_URL
# Registering a dataset queues its profiling here, as in production (make test turns that off
# for the registry's own tests through PGOPTIONS; later settings win; the bridge inherits it).
: "${PGHOST:?}" "${PGPORT:?}" "${MCP_DEMO_CONNINFO:?}"
export PGUSER=${PGUSER:-postgres}
export PGOPTIONS="${PGOPTIONS:-} -c mcp_analytics.profile_on_register=on"

bail() { echo "Bail out! $*"; exit 1; }
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }

fixture_begin() {
    DB=$1
    FIXTURE_LOG_COPY=$2
    BIN=${MCP_BRIDGE_BIN:-$ROOT/build/bridge/mcp-bridge}
    WORK=$(mktemp -d "/tmp/${DB}.XXXXXX")
    BRIDGE_PID=
    trap fixture_end EXIT
    [ -x "$BIN" ] || bail "mcp-bridge is not built ($BIN)"
}

fixture_end() {
    if [ -n "$BRIDGE_PID" ] && kill -0 "$BRIDGE_PID" 2>/dev/null; then
        kill -TERM "$BRIDGE_PID"; wait "$BRIDGE_PID" 2>/dev/null
    fi
    mkdir -p "$(dirname "$FIXTURE_LOG_COPY")"
    cp "$WORK/bridge.log" "$FIXTURE_LOG_COPY" 2>/dev/null || true
    rm -rf "$WORK"
}

fixture_database() {
    local label=$1
    sql -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null || bail "cannot create $DB"
    sql -d "$DB" -c "CREATE EXTENSION mcp_analytics" >/dev/null || bail "cannot create the extension"
    ADMIN_KEY=$(sql -d "$DB" -c "SELECT mcp.create_api_key('$label admin', 'admin')")
    READER_KEY=$(sql -d "$DB" -c "SELECT mcp.create_api_key('$label reader', 'reader')")
}

fixture_start_bridge() {
    DB_URL="host=$PGHOST port=$PGPORT dbname=$DB user=$PGUSER"
    MCP_BRIDGE_DATABASE_URL=$DB_URL "$BIN" --listen 127.0.0.1:0 >"$WORK/bridge.out" 2>"$WORK/bridge.log" &
    BRIDGE_PID=$!
    for _ in $(seq 1 100); do grep -q "listening on" "$WORK/bridge.out" 2>/dev/null && break; sleep 0.1; done
    URL=$(sed -n 's/^mcp-bridge listening on //p' "$WORK/bridge.out")
    [ -n "$URL" ] || bail "the bridge did not start: $(tail -5 "$WORK/bridge.log")"
}
