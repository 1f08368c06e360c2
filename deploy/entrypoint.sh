#!/usr/bin/env bash
# Entrypoint of the mcp_analytics image (deploy/Dockerfile). Configured by environment
# variables only; secrets come from files (Docker/compose secrets, Render secret files).
#
#   entrypoint.sh metadata-db   initialise or upgrade the metadata database, then run PostgreSQL
#   entrypoint.sh init          initialise or upgrade only, then exit (what `make test` runs twice)
#   entrypoint.sh bridge        wait for the metadata database, then run mcp-bridge
#   entrypoint.sh demo          load the demo panel beside the metadata database and register it
#   entrypoint.sh CMD ...       run CMD (a shell, psql, ...)
#
# Started as root, the four commands above drop to the user postgres first (drop_privileges).
#
# `init` is idempotent: on an empty data folder it runs initdb, configures the server, creates
# the database, the extension, the bridge's role and an admin API key; on an existing one it
# changes only what differs (an extension older than the installed files is upgraded with
# ALTER EXTENSION ... UPDATE); on an up-to-date one it changes nothing and says so.
set -euo pipefail

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
MCP_STATE_DIR=${MCP_STATE_DIR:-/var/lib/mcp_analytics}
PGDATA=${PGDATA:-$MCP_STATE_DIR/pgdata}
MCP_RUNTIME_DIR=${MCP_RUNTIME_DIR:-/run/mcp_analytics}
MCP_METADATA_DB=${MCP_METADATA_DB:-mcp_analytics}
MCP_PG_PORT=${MCP_PG_PORT:-5432}
MCP_PG_LISTEN=${MCP_PG_LISTEN:-*}
MCP_PG_ALLOWED_NETWORKS=${MCP_PG_ALLOWED_NETWORKS:-0.0.0.0/0 ::/0}
MCP_BRIDGE_DB_USER=${MCP_BRIDGE_DB_USER:-mcp_bridge}
MCP_SERVER_USER=${MCP_SERVER_USER:-postgres}
export PGDATA

say() { printf 'entrypoint: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
CHANGES=()
changed() { CHANGES+=("$1"); say "$1"; }

# A secret from NAME_FILE (preferred) or NAME; empty when neither is set.
secret() {
    local name=$1 file_var="${1}_FILE"
    if [ -n "${!file_var:-}" ]; then
        [ -r "${!file_var}" ] || die "$file_var names ${!file_var}, which cannot be read"
        tr -d '\r\n' <"${!file_var}"
    else
        printf '%s' "${!name:-}"
    fi
}

digest() { sha256sum | cut -d' ' -f1; }

# Writes FILE from stdin only when its content differs (keeps `init` change-free).
write_if_changed() {
    local file=$1 mode=$2 content
    content=$(cat)
    if [ -f "$file" ] && [ "$(cat "$file")" = "$content" ]; then return 1; fi
    ( umask 077; printf '%s\n' "$content" >"$file.tmp" )
    chmod "$mode" "$file.tmp"
    mv -f "$file.tmp" "$file"
}

# Started as root (the image's default: a fresh Render disk or file share is root's), it hands
# the state and runtime folders and private copies of the secret files to the server's user,
# then runs itself again as that user. Nothing of ours runs as root after this.
drop_privileges() {
    [ "$(id -u)" = 0 ] || return 0
    id "$MCP_SERVER_USER" >/dev/null 2>&1 || die "there is no user $MCP_SERVER_USER to run as"
    local dir var copy
    mkdir -p "$MCP_STATE_DIR" "$MCP_RUNTIME_DIR/secrets"
    for dir in "$MCP_STATE_DIR" "$MCP_RUNTIME_DIR" "$MCP_RUNTIME_DIR/secrets"; do
        [ "$(stat -c %U "$dir")" = "$MCP_SERVER_USER" ] || chown "$MCP_SERVER_USER:" "$dir"
    done
    chmod 700 "$MCP_RUNTIME_DIR" "$MCP_RUNTIME_DIR/secrets"
    # A compose secret is a bind mount with the host's owner and mode: it may be root's only.
    for var in MCP_ANALYTICS_KEY_FILE MCP_POSTGRES_PASSWORD_FILE MCP_BRIDGE_DB_PASSWORD_FILE \
               MCP_BRIDGE_DATABASE_URL_FILE; do
        if [ -z "${!var:-}" ] || [ ! -r "${!var}" ]; then continue; fi
        copy=$MCP_RUNTIME_DIR/secrets/${var%_FILE}
        install -m 600 -o "$MCP_SERVER_USER" "${!var}" "$copy"
        export "$var=$copy"
    done
    export HOME=$MCP_STATE_DIR
    exec setpriv --reuid="$MCP_SERVER_USER" --regid="$MCP_SERVER_USER" --init-groups -- "$0" "$@"
}

# --- metadata database ----------------------------------------------------------------------

socket_dir() { printf '%s/socket' "$MCP_RUNTIME_DIR"; }
# While init works, the server listens on another folder: a health probe on the usual socket
# must not see it ready before the database is.
init_socket_dir() { printf '%s/init-socket' "$MCP_RUNTIME_DIR"; }

# The AES key comes from a secret file that may be world-readable (a bind mount); the server
# refuses such a key, so it gets a private copy outside the data folder, made at every start.
install_key() {
    local source=${MCP_ANALYTICS_KEY_FILE:-}
    [ -n "$source" ] || die "MCP_ANALYTICS_KEY_FILE is not set: it names the file with the key that encrypts dataset connection strings (make one with: openssl rand -hex 32)"
    [ -r "$source" ] || die "MCP_ANALYTICS_KEY_FILE names $source, which cannot be read"
    mkdir -p "$MCP_RUNTIME_DIR/keys"
    chmod 700 "$MCP_RUNTIME_DIR" "$MCP_RUNTIME_DIR/keys"
    ( umask 077; tr -d '\r\n' <"$source" >"$MCP_RUNTIME_DIR/keys/mcp_analytics.key" )
    chmod 600 "$MCP_RUNTIME_DIR/keys/mcp_analytics.key"
    local length
    length=$(wc -c <"$MCP_RUNTIME_DIR/keys/mcp_analytics.key")
    [ "$length" = 64 ] || [ "$length" = 32 ] || die "the key in $source must be 64 hex digits (or 32 raw bytes)"
}

init_cluster() {
    if [ -s "$PGDATA/PG_VERSION" ]; then return; fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"
    [ -z "$(ls -A "$PGDATA")" ] || die "$PGDATA is neither empty nor a PostgreSQL data folder"
    local password pwfile=()
    password=$(secret MCP_POSTGRES_PASSWORD)
    if [ -n "$password" ]; then
        printf '%s\n' "$password" >"$MCP_RUNTIME_DIR/pwfile"
        pwfile=(--pwfile="$MCP_RUNTIME_DIR/pwfile")
    fi
    "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 "${pwfile[@]}" >"$MCP_RUNTIME_DIR/initdb.log" 2>&1 \
        || { cat "$MCP_RUNTIME_DIR/initdb.log" >&2; rm -f "$MCP_RUNTIME_DIR/pwfile"; die "initdb failed"; }
    rm -f "$MCP_RUNTIME_DIR/pwfile"
    mkdir -p "$PGDATA/conf.d"
    printf "\n# Settings of the mcp_analytics image, rewritten by its entrypoint.\ninclude_dir = 'conf.d'\n" >>"$PGDATA/postgresql.conf"
    changed "initialised a new data folder in $PGDATA"
}

# The server settings this image manages: rewritten when they differ, left alone otherwise.
configure_cluster() {
    mkdir -p "$PGDATA/conf.d"
    if write_if_changed "$PGDATA/conf.d/00_mcp_analytics.conf" 600 <<CONF
# Managed by the mcp_analytics entrypoint; put your own settings in another file here.
listen_addresses = '$MCP_PG_LISTEN'
port = $MCP_PG_PORT
unix_socket_directories = '$(socket_dir)'
unix_socket_permissions = 0700
shared_preload_libraries = 'mcp_analytics'
mcp_analytics.key_file = '$MCP_RUNTIME_DIR/keys/mcp_analytics.key'
max_worker_processes = 16
log_destination = 'stderr'
CONF
    then
        changed "wrote the server settings (conf.d/00_mcp_analytics.conf)"
    fi
    local hba network
    hba=$'# Managed by the mcp_analytics entrypoint. The socket folder is private to the server user.\nlocal all all trust'
    for network in $MCP_PG_ALLOWED_NETWORKS; do
        hba+=$'\n'"host all all $network scram-sha-256"
    done
    if printf '%s' "$hba" | write_if_changed "$PGDATA/pg_hba.conf" 600; then
        changed "wrote the client authentication rules (pg_hba.conf)"
    fi
}

start_private_server() {  # no TCP: nothing outside can connect while we set up
    mkdir -p "$(init_socket_dir)"
    chmod 700 "$(init_socket_dir)"
    "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -t 120 -l "$MCP_RUNTIME_DIR/init-server.log" \
        -o "-c listen_addresses='' -c unix_socket_directories='$(init_socket_dir)'" start >/dev/null \
        || { cat "$MCP_RUNTIME_DIR/init-server.log" >&2; die "PostgreSQL did not start"; }
}

stop_private_server() { "$PG_BINDIR/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null; }

sql() {  # DATABASE SQL: one value or nothing
    "$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$(init_socket_dir)" -p "$MCP_PG_PORT" -U postgres -d "$1" -c "$2"
}

# Passwords are set when their secret file changed (a digest is kept, never the password), so
# an unchanged secret changes nothing and a new one rotates the password.
set_password_if_changed() {  # ROLE SECRET-NAME
    local role=$1 password state_file="$PGDATA/mcp_deploy_secrets" key new old=""
    password=$(secret "$2")
    [ -n "$password" ] || return 0
    key="$role:"
    new="$key$(printf '%s' "$password" | digest)"
    [ -f "$state_file" ] && old=$(grep -F "$key" "$state_file" || true)
    [ "$old" = "$new" ] && return 0
    # Through the environment of psql, not its arguments (visible in ps) nor a file.
    MCP_ROLE_PASSWORD=$password "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$(init_socket_dir)" \
        -p "$MCP_PG_PORT" -U postgres -d postgres -v role="$role" >/dev/null <<'SQL'
\getenv password MCP_ROLE_PASSWORD
ALTER ROLE :"role" PASSWORD :'password';
SQL
    { grep -vF "$key" "$state_file" 2>/dev/null || true; printf '%s\n' "$new"; } >"$state_file.tmp"
    chmod 600 "$state_file.tmp"
    mv -f "$state_file.tmp" "$state_file"
    changed "set the password of role $role"
}

setup_database() {
    if [ "$(sql postgres "SELECT count(*) FROM pg_database WHERE datname = '$MCP_METADATA_DB'")" = 0 ]; then
        sql postgres "CREATE DATABASE \"$MCP_METADATA_DB\"" >/dev/null
        changed "created database $MCP_METADATA_DB"
    fi
    local installed available
    installed=$(sql "$MCP_METADATA_DB" "SELECT extversion FROM pg_extension WHERE extname = 'mcp_analytics'")
    available=$(sql "$MCP_METADATA_DB" "SELECT default_version FROM pg_available_extensions WHERE name = 'mcp_analytics'")
    [ -n "$available" ] || die "the mcp_analytics extension is not installed in this image"
    if [ -z "$installed" ]; then
        sql "$MCP_METADATA_DB" "CREATE EXTENSION mcp_analytics" >/dev/null
        changed "created extension mcp_analytics $available"
    elif [ "$installed" != "$available" ]; then
        sql "$MCP_METADATA_DB" "ALTER EXTENSION mcp_analytics UPDATE" >/dev/null
        changed "upgraded extension mcp_analytics from $installed to $available"
    fi
    set_password_if_changed postgres MCP_POSTGRES_PASSWORD
    # The bridge's own role: an admin of mcp_analytics, not a superuser.
    if [ "$(sql postgres "SELECT count(*) FROM pg_roles WHERE rolname = '$MCP_BRIDGE_DB_USER'")" = 0 ]; then
        sql postgres "CREATE ROLE \"$MCP_BRIDGE_DB_USER\" LOGIN IN ROLE mcp_admin" >/dev/null
        changed "created role $MCP_BRIDGE_DB_USER (member of mcp_admin)"
    fi
    set_password_if_changed "$MCP_BRIDGE_DB_USER" MCP_BRIDGE_DB_PASSWORD
    # One admin API key for the first sign-in, written once beside the data folder.
    local key_file=$MCP_STATE_DIR/admin_api_key
    if [ "$(sql "$MCP_METADATA_DB" "SELECT count(*) FROM mcp.api_keys WHERE name = 'deploy admin'")" = 0 ]; then
        ( umask 077; sql "$MCP_METADATA_DB" "SELECT mcp.create_api_key('deploy admin', 'admin')" >"$key_file" )
        changed "created the admin API key 'deploy admin' (in $key_file; revoke it once you made your own)"
    fi
}

init() {
    [ "$(id -u)" != 0 ] || die "still root: the server refuses to run as root"
    mkdir -p "$MCP_STATE_DIR" "$MCP_RUNTIME_DIR" "$(socket_dir)"
    chmod 700 "$MCP_RUNTIME_DIR" "$(socket_dir)"
    install_key
    init_cluster
    configure_cluster
    start_private_server
    trap 'stop_private_server' EXIT
    setup_database
    stop_private_server
    trap - EXIT
    if [ ${#CHANGES[@]} -eq 0 ]; then
        say "the metadata database is up to date; nothing changed"
    else
        say "${#CHANGES[@]} change(s) made"
    fi
}

# --- bridge -----------------------------------------------------------------------------------

conninfo_quote() { local v=${1//\\/\\\\}; printf "'%s'" "${v//\'/\\\'}"; }

bridge() {
    local url
    url=$(secret MCP_BRIDGE_DATABASE_URL)
    if [ -z "$url" ]; then
        local password
        password=$(secret MCP_BRIDGE_DB_PASSWORD)
        [ -n "$password" ] || die "set MCP_BRIDGE_DATABASE_URL(_FILE), or MCP_DB_HOST with MCP_BRIDGE_DB_PASSWORD_FILE"
        url="host=$(conninfo_quote "${MCP_DB_HOST:-db}") port=${MCP_DB_PORT:-5432} dbname=$(conninfo_quote "$MCP_METADATA_DB")"
        url+=" user=$(conninfo_quote "$MCP_BRIDGE_DB_USER") password=$(conninfo_quote "$password")"
    fi
    local waited=0 limit=${MCP_DB_WAIT_SECONDS:-120}
    until "$PG_BINDIR/pg_isready" -q -d "$url"; do
        [ "$waited" -lt "$limit" ] || die "the metadata database did not answer within ${limit}s"
        sleep 2
        waited=$((waited + 2))
    done
    export MCP_BRIDGE_DATABASE_URL=$url
    export MCP_BRIDGE_LISTEN=${MCP_BRIDGE_LISTEN:-0.0.0.0:${PORT:-8080}}
    exec mcp-bridge "$@"
}

# --- demo dataset -----------------------------------------------------------------------------

# Loads the synthetic panel into database mcp_demo on the metadata server and registers it as
# demo_panel (profiled, then approved), connecting as the superuser over the network. Once
# the dataset exists it does nothing.
demo() {
    local password
    password=$(secret MCP_POSTGRES_PASSWORD)
    [ -n "$password" ] || die "the demo needs MCP_POSTGRES_PASSWORD_FILE (the metadata server's superuser)"
    export PGHOST=${MCP_DB_HOST:-db} PGPORT=${MCP_DB_PORT:-5432} PGUSER=postgres PGPASSWORD=$password
    local psql=("$PG_BINDIR/psql" -X -q -At -v ON_ERROR_STOP=1)
    until "$PG_BINDIR/pg_isready" -q -d "$MCP_METADATA_DB"; do sleep 2; done
    if [ "$("${psql[@]}" -d "$MCP_METADATA_DB" -c "SELECT count(*) FROM mcp.datasets() WHERE name = 'demo_panel'")" != 0 ]; then
        say "the demo dataset is registered already"; return
    fi
    [ "$("${psql[@]}" -d postgres -c "SELECT count(*) FROM pg_database WHERE datname = 'mcp_demo'")" = 1 ] \
        || "${psql[@]}" -d postgres -c "CREATE DATABASE mcp_demo"
    "${psql[@]}" -d mcp_demo -f /usr/share/mcp_analytics/demo_dataset.sql >/dev/null
    local reader_password
    reader_password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    "${psql[@]}" -d mcp_demo -v pw="$reader_password" >/dev/null <<'SQL'
SELECT 'CREATE ROLE mcp_demo_reader LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mcp_demo_reader') \gexec
ALTER ROLE mcp_demo_reader PASSWORD :'pw';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO mcp_demo_reader;
SQL
    # The connection string reaches the server as COPY data, never in a statement's text.
    local id
    id=$("${psql[@]}" -d "$MCP_METADATA_DB" <<SQL
CREATE TEMPORARY TABLE demo_conninfo (conninfo text);
COPY demo_conninfo FROM STDIN;
host=localhost port=${MCP_PG_PORT} dbname=mcp_demo user=mcp_demo_reader password=$reader_password
\\.
SELECT mcp.register_dataset('demo_panel', (SELECT conninfo FROM demo_conninfo), 'postgres',
       'Synthetic smartphone and connected-TV panel: weighted panelists, their app events, and daily app usage');
SQL
)
    say "registered demo_panel (id $id); profiling it"
    "${psql[@]}" -d "$MCP_METADATA_DB" -c "SELECT mcp.wait_for_jobs($id, '600 seconds')" >/dev/null
    "${psql[@]}" -d "$MCP_METADATA_DB" -c "SELECT mcp.approve_dataset($id, 'demo loader')" >/dev/null \
        && say "approved demo_panel"
}

# The image's HEALTHCHECK asks this file which role the container runs.
note_role() { mkdir -p "$MCP_RUNTIME_DIR" && printf '%s\n' "$1" >"$MCP_RUNTIME_DIR/role"; }

cmd=${1:-metadata-db}
case "$cmd" in init|metadata-db|bridge|demo) drop_privileges "$@" ;; esac
case "$cmd" in
init) init ;;
metadata-db)
    init
    note_role metadata-db
    exec "$PG_BINDIR/postgres" -D "$PGDATA"
    ;;
bridge) shift; note_role bridge; bridge "$@" ;;
demo) demo ;;
*) exec "$@" ;;
esac
