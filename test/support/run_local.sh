#!/usr/bin/env bash
# `make run` and friends: a local mcp_analytics under .data/ that survives re-runs.
#
#   run_local.sh start         build, install, start PostgreSQL + bridge, load and register the demo
#   run_local.sh stop          stop the bridge and PostgreSQL
#   run_local.sh psql          psql on the metadata database
#   run_local.sh demo SCALE    reload the demo panel at SCALE times the default size
#   run_local.sh clean         stop, then remove .data/ (and the cluster it points to)
#
# What is running, and how to reach it, is written to .data/run.env for scripts to source.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUPPORT=$ROOT/test/support
# shellcheck source=run_env.sh
. "$SUPPORT/run_env.sh"
DATA=$ROOT/.data
ENV_FILE=$DATA/run.env
METADATA_DB=mcp_analytics
DEMO_DB=mcp_demo
DEMO_DATASET=demo_panel
BRIDGE_BIN=$ROOT/build/bridge/mcp-bridge

say() { printf '%s\n' "$*"; }

# The LLM endpoint's key from the environment: never handed to this local server, so that
# `make run` writes metadata deterministically and calls no outside service.
unset MCP_ANALYTICS_LLM_API_KEY

# The server runs as `postgres` when we are root; it must be able to reach the cluster folder.
# A checkout under a private home (/root) is not reachable, so the cluster then lives in
# /var/lib/mcp_analytics and .data/cluster points at it.
cluster_dir() {
    if [ -e "$DATA/cluster" ]; then readlink -f "$DATA/cluster"; return; fi
    mkdir -p "$DATA"
    if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
        mkdir -p "$DATA/cluster"
    else
        local elsewhere
        elsewhere=/var/lib/mcp_analytics/$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)
        mkdir -p "$elsewhere"
        ln -s "$elsewhere" "$DATA/cluster"
    fi
    readlink -f "$DATA/cluster"
}

cluster_port() { sed -n 's/^port = \([0-9]*\)$/\1/p' "$1/pgdata/postgresql.conf" | tail -n 1; }

is_running() { [ -f "$1/pgdata/postmaster.pid" ] && pg_ctl_status "$1"; }
pg_ctl_status() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$(pg_config --bindir)/pg_ctl" -D "$1/pgdata" status >/dev/null 2>&1
    else "$(pg_config --bindir)/pg_ctl" -D "$1/pgdata" status >/dev/null 2>&1; fi
}

use_cluster() {
    CLUSTER=$(cluster_dir)
    export PGHOST=$CLUSTER/socket PGUSER=postgres
    PGPORT=$(cluster_port "$CLUSTER" 2>/dev/null || true)
    export PGPORT
}

sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

new_secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start_cluster() {
    use_cluster
    if [ ! -f "$CLUSTER/pgdata/PG_VERSION" ]; then
        PGPORT=$("$SUPPORT/pg_cluster.sh" free-port 5433)
        say "creating a PostgreSQL cluster in .data/ on port $PGPORT"
        "$SUPPORT/pg_cluster.sh" init "$CLUSTER" "$PGPORT"
    fi
    if ! is_running "$CLUSTER"; then "$SUPPORT/pg_cluster.sh" start "$CLUSTER"; fi
    PGPORT=$(cluster_port "$CLUSTER")  # start may have moved it off a port taken meanwhile
    export PGPORT
}

load_demo() {  # scale
    local scale=$1 password_file=$DATA/demo_reader.password
    [ -f "$password_file" ] || ( umask 077; new_secret > "$password_file" )
    if [ "$(sql -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$DEMO_DB'")" = 0 ]; then
        sql -d postgres -c "CREATE DATABASE $DEMO_DB"
    fi
    say "loading the demo panel (scale $scale) into database $DEMO_DB"
    sql -d "$DEMO_DB" -v scale="$scale" -f "$ROOT/test/fixtures/demo_dataset.sql" >/dev/null
    sql -d "$DEMO_DB" -v pw="$(cat "$password_file")" >/dev/null <<'SQL'
SELECT format('CREATE ROLE mcp_demo_reader LOGIN PASSWORD %L', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mcp_demo_reader') \gexec
ALTER ROLE mcp_demo_reader PASSWORD :'pw';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO mcp_demo_reader;
SQL
}

demo_conninfo() {
    printf 'host=127.0.0.1 port=%s dbname=%s user=mcp_demo_reader password=%s' \
        "$PGPORT" "$DEMO_DB" "$(cat "$DATA/demo_reader.password")"
}

register_demo() {
    local id
    id=$(sql -d "$METADATA_DB" -c "SELECT id FROM mcp.datasets() WHERE name = '$DEMO_DATASET'")
    if [ -z "$id" ]; then
        # The connection string travels as a bind parameter (never in the statement text).
        id=$(DEMO_CONNINFO=$(demo_conninfo) perl -MDBI -e '
            my $dbh = DBI->connect("dbi:Pg:dbname='"$METADATA_DB"'", "postgres", "", {RaiseError => 1, PrintError => 0});
            print $dbh->selectrow_array("SELECT mcp.register_dataset(\$1, \$2, \$3, \$4)", undef,
                "'"$DEMO_DATASET"'", $ENV{DEMO_CONNINFO}, "postgres",
                "Synthetic smartphone and connected-TV panel: weighted panelists, their app events, and daily app usage");')
        say "registered the demo dataset \"$DEMO_DATASET\" (id $id)"
    fi
    DEMO_ID=$id
}

# Registration queued the demo's profiling; the background workers profile it and write its
# metadata (from the profile: no LLM endpoint is configured here). Then it is approved, so a
# new user's MCP client can query it at once. Nothing to do once it is approved.
approve_demo() {
    local status
    status=$(sql -d "$METADATA_DB" -c "SELECT status FROM mcp.dataset($DEMO_ID)")
    case "$status" in
    approved|active) return ;;
    draft|inactive) sql -d "$METADATA_DB" -c "SELECT mcp.reprofile_dataset($DEMO_ID)" >/dev/null ;;
    esac
    say "profiling the demo dataset and writing its metadata"
    sql -d "$METADATA_DB" -c "SELECT mcp.wait_for_jobs($DEMO_ID, '300 seconds')" >/dev/null
    status=$(sql -d "$METADATA_DB" -c "SELECT status FROM mcp.dataset($DEMO_ID)")
    if [ "$status" != metadata_pending ]; then
        say "the demo dataset is \"$status\", not ready for approval; see: make psql, then SELECT * FROM mcp.jobs_status($DEMO_ID);"
        return
    fi
    sql -d "$METADATA_DB" -c "SELECT mcp.approve_dataset($DEMO_ID, 'make run')" >/dev/null
    say "approved the demo dataset (approved_by \"make run\")"
}

# One admin API key for MCP and REST clients, made once and kept in .data/mcp_api_key (0600);
# a new one only when that one no longer authenticates. The secret travels as a bind parameter.
ensure_api_key() {
    local file=$DATA/mcp_api_key valid=0
    if [ -f "$file" ]; then
        valid=$(MCP_KEY=$(cat "$file") perl -MDBI -e '
            my $dbh = DBI->connect("dbi:Pg:dbname='"$METADATA_DB"'", "postgres", "", {RaiseError => 1, PrintError => 0});
            print scalar $dbh->selectrow_array("SELECT count(*) FROM mcp.authenticate(\$1)", undef, $ENV{MCP_KEY});')
    fi
    if [ "$valid" != 1 ]; then
        ( umask 077; sql -d "$METADATA_DB" \
            -c "SELECT mcp.create_api_key('make run ' || to_char(clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS.US'), 'admin')" >"$file" )
        say "created an admin API key for MCP and REST clients (kept in .data/mcp_api_key)"
    fi
    MCP_API_KEY=$(cat "$file")
}

bridge_pid() { [ -f "$DATA/bridge.pid" ] && kill -0 "$(cat "$DATA/bridge.pid")" 2>/dev/null && cat "$DATA/bridge.pid"; }

start_bridge() {
    BRIDGE_URL=$(sed -n "s/^MCP_BRIDGE_URL='\?\([^']*\)'\?$/\1/p" "$ENV_FILE" 2>/dev/null || true)
    if bridge_pid >/dev/null && [ -n "$BRIDGE_URL" ]; then return; fi
    local port
    port=$("$SUPPORT/pg_cluster.sh" free-port "${MCP_BRIDGE_PORT:-8080}")
    : >"$DATA/bridge.log"
    MCP_BRIDGE_DATABASE_URL="host=$PGHOST port=$PGPORT dbname=$METADATA_DB user=postgres" \
        nohup "$BRIDGE_BIN" --listen "127.0.0.1:$port" >"$DATA/bridge.out" 2>>"$DATA/bridge.log" &
    echo $! >"$DATA/bridge.pid"
    for _ in $(seq 1 100); do
        grep -q "listening on" "$DATA/bridge.out" 2>/dev/null && break
        sleep 0.1
    done
    BRIDGE_URL=$(sed -n 's/^mcp-bridge listening on //p' "$DATA/bridge.out" | head -n 1)
    [ -n "$BRIDGE_URL" ] || { say "the bridge did not start; see .data/bridge.log"; tail -n 20 "$DATA/bridge.log"; exit 1; }
}

# Valid shell and valid dotenv: every value single-quoted (the URL holds `&` and `?`).
write_env() {
    write_run_env "$ENV_FILE" 'Written by `make run`; source it from scripts (`. .data/run.env`) or use it as a dotenv file.' \
        DATABASE_URL "postgresql://postgres@/$METADATA_DB?host=$PGHOST&port=$PGPORT" \
        PGHOST "$PGHOST" PGPORT "$PGPORT" PGUSER postgres PGDATABASE "$METADATA_DB" \
        MCP_BRIDGE_URL "$BRIDGE_URL" MCP_URL "$BRIDGE_URL/mcp" MCP_API_KEY "$MCP_API_KEY"
}

cmd=${1:-start}
case "$cmd" in
start)
    cd "$ROOT"
    make -s build
    if [ "$(id -u)" = 0 ]; then make -s install >/dev/null; else sudo make -s install >/dev/null; fi
    start_cluster
    if [ "$(sql -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$METADATA_DB'")" = 0 ]; then
        sql -d postgres -c "CREATE DATABASE $METADATA_DB"
    fi
    sql -d "$METADATA_DB" -c "CREATE EXTENSION IF NOT EXISTS mcp_analytics" -c "ALTER EXTENSION mcp_analytics UPDATE"
    if [ "$(sql -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = '$DEMO_DB'")" = 0 ]; then
        load_demo 1
    fi
    register_demo
    approve_demo
    ensure_api_key
    start_bridge
    write_env
    health=$(curl -s "$BRIDGE_URL/healthz" || echo unreachable)
    cat <<EOF

mcp_analytics is running.
  PostgreSQL   $PGHOST (port $PGPORT), metadata database "$METADATA_DB", demo dataset database "$DEMO_DB"
  bridge       $BRIDGE_URL   (pid $(cat "$DATA/bridge.pid"), log .data/bridge.log)
  health       $BRIDGE_URL/healthz -> $health
  MCP          $BRIDGE_URL/mcp   (Authorization: Bearer \$MCP_API_KEY)
  API key      $MCP_API_KEY   (admin; also in .data/run.env)
  demo dataset "$DEMO_DATASET" (id $DEMO_ID):  make psql, then SELECT * FROM mcp.datasets();
  settings     .data/run.env       stop: make stop       remove everything: make clean-data
EOF
    ;;
stop)
    if pid=$(bridge_pid); then
        kill -TERM "$pid"
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        say "bridge stopped"
    fi
    rm -f "$DATA/bridge.pid"
    if [ -e "$DATA/cluster" ]; then
        use_cluster
        "$SUPPORT/pg_cluster.sh" stop "$CLUSTER" && say "PostgreSQL stopped"
    fi
    ;;
clean)
    "$0" stop || true
    if [ -L "$DATA/cluster" ]; then rm -rf "$(readlink -f "$DATA/cluster")"; fi
    rm -rf "$DATA"
    say "removed .data/"
    ;;
psql)
    use_cluster
    is_running "$CLUSTER" || { say "not running: make run first"; exit 1; }
    exec psql -X -d "$METADATA_DB"
    ;;
demo)
    use_cluster
    is_running "$CLUSTER" || { say "not running: make run first"; exit 1; }
    load_demo "${2:-1}"
    if DEMO_ID=$(sql -d "$METADATA_DB" -c "SELECT id FROM mcp.datasets() WHERE name = '$DEMO_DATASET'") && [ -n "$DEMO_ID" ]; then
        sql -d "$METADATA_DB" -c "SELECT mcp.reprofile_dataset($DEMO_ID)" >/dev/null  # back through review
        approve_demo
    fi
    ;;
*)
    say "usage: run_local.sh start|stop|psql|demo SCALE"; exit 2 ;;
esac
