#!/usr/bin/env bash
# A PostgreSQL cluster of our own, in a folder we name, for `make run` and `make test`.
#
#   pg_cluster.sh init  DIR PORT   initdb + config (mcp_analytics preloaded, key file made)
#   pg_cluster.sh start DIR        start it and wait until it accepts connections
#   pg_cluster.sh stop  DIR        fast shutdown (no error if it is not running)
#   pg_cluster.sh port  DIR        the port it is configured for (start may have moved it)
#   pg_cluster.sh free-port FROM   the first port at or above FROM that nobody listens on
#
# Layout under DIR: pgdata/ (the data directory), socket/ (unix socket), keys/ (encryption
# keys, outside the data directory, mode 0600), postgres.log. The server refuses to run as
# root, so as root everything runs as the `postgres` user.
set -euo pipefail

PG_BINDIR=$(pg_config --bindir)

as_server_user() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

server_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

# 64 hex digits from the kernel's CSPRNG.
new_key_file() {
    local file=$1
    ( umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$file" )
    chown "$(server_user)" "$file"
    chmod 600 "$file"
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd=${1:?usage: pg_cluster.sh init|start|stop|free-port ...}
case "$cmd" in
free-port)
    port=${2:-5433}
    while port_in_use "$port"; do port=$((port + 1)); done
    echo "$port"
    ;;
init)
    dir=${2:?DIR}; port=${3:?PORT}
    mkdir -p "$dir/socket" "$dir/keys"
    chmod 755 "$dir"
    chmod 700 "$dir/keys"
    chown "$(server_user)" "$dir" "$dir/socket" "$dir/keys"
    [ -f "$dir/keys/mcp_analytics.key" ] || new_key_file "$dir/keys/mcp_analytics.key"
    as_server_user "$PG_BINDIR/initdb" -D "$dir/pgdata" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log"
    cat >>"$dir/pgdata/postgresql.conf" <<CONF

# --- mcp_analytics local cluster ---
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/socket'
shared_preload_libraries = 'mcp_analytics'
mcp_analytics.key_file = '$dir/keys/mcp_analytics.key'
max_connections = 200
max_worker_processes = 32
log_line_prefix = '%m [%p] %q%u@%d '
CONF
    ;;
start)
    # Another program may take the port between init and start: move to the next free one.
    dir=${2:?DIR}
    for attempt in 1 2 3; do
        logged=$(stat -c %s "$dir/postgres.log" 2>/dev/null || echo 0)
        if as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/pgdata" -l "$dir/postgres.log" -w -t 60 start >/dev/null; then
            exit 0
        fi
        tail -c +$((logged + 1)) "$dir/postgres.log" | grep -q "Address already in use" || break
        taken=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$dir/pgdata/postgresql.conf" | tail -n 1)
        next=$("$0" free-port $((taken + 1)))
        echo "port $taken was taken; moving the cluster to port $next" >&2
        echo "port = $next" >>"$dir/pgdata/postgresql.conf"
    done
    tail -n 20 "$dir/postgres.log" >&2
    exit 1
    ;;
port)
    sed -n 's/^port = \([0-9]*\)$/\1/p' "${2:?DIR}/pgdata/postgresql.conf" | tail -n 1
    ;;
stop)
    dir=${2:?DIR}
    if [ -f "$dir/pgdata/postmaster.pid" ]; then
        as_server_user "$PG_BINDIR/pg_ctl" -D "$dir/pgdata" -m fast -w -t 60 stop >/dev/null || true
    fi
    ;;
new-key)
    new_key_file "${2:?FILE}"
    ;;
*)
    echo "pg_cluster.sh: unknown command $cmd" >&2; exit 2 ;;
esac
