#!/usr/bin/env bash
# Benchmark of query execution on a throwaway cluster: see query_bench.pl for what it prints.
#   test/bench/query_bench.sh          ROUNDS=2000 by default
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SUPPORT=$ROOT/test/support
if [ "$(id -u)" = 0 ]; then make -s -C "$ROOT" install >/dev/null; else sudo make -s -C "$ROOT" install >/dev/null; fi

WORK=$(mktemp -d /tmp/mcp_query_bench.XXXXXX)
chmod 755 "$WORK"
PORT=$("$SUPPORT/pg_cluster.sh" free-port 55600)
cleanup() { "$SUPPORT/pg_cluster.sh" stop "$WORK"; rm -rf "$WORK"; }
trap cleanup EXIT
"$SUPPORT/pg_cluster.sh" init "$WORK" "$PORT" >/dev/null
"$SUPPORT/pg_cluster.sh" start "$WORK"
export PGHOST=$WORK/socket PGPORT=$PORT PGUSER=postgres
PASSWORD="bench-$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sql() { psql -X -q -v ON_ERROR_STOP=1 "$@" >/dev/null; }
sql -d postgres -c "CREATE DATABASE mcp_demo" -c "CREATE DATABASE mcp_bench"
sql -d mcp_demo -f "$ROOT/test/fixtures/demo_dataset.sql"
sql -d mcp_demo -v pw="$PASSWORD" <<'SQL'
CREATE ROLE mcp_demo_reader LOGIN PASSWORD :'pw';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO mcp_demo_reader;
CREATE SCHEMA trap;
CREATE FUNCTION trap.slow(seconds float8) RETURNS float8 LANGUAGE sql
    AS 'SELECT pg_sleep(seconds); SELECT seconds';
GRANT USAGE ON SCHEMA trap TO mcp_demo_reader;
SQL
CONNINFO="host=127.0.0.1 port=$PORT dbname=mcp_demo user=mcp_demo_reader password=$PASSWORD"
sql -d mcp_bench -c "CREATE EXTENSION mcp_analytics"
CONNINFO=$CONNINFO perl -MDBI -e '
    my $dbh = DBI->connect("dbi:Pg:dbname=mcp_bench", "postgres", "", {RaiseError => 1});
    my ($id) = $dbh->selectrow_array("SELECT mcp.register_dataset(\$1, \$2)", undef, "bench_demo", $ENV{CONNINFO});
    $dbh->do("SELECT mcp.set_dataset_status(\$1, \$2)", undef, $id, $_) for qw(profiling metadata_pending approved);'

NODE_DIR=$ROOT/build/bench-node
mkdir -p "$NODE_DIR"
cp "$ROOT/test/bench/package.json" "$ROOT/test/bench/package-lock.json" "$NODE_DIR/"
(cd "$NODE_DIR" && npm ci --no-audit --no-fund --silent >/dev/null)

echo "query execution benchmark: PostgreSQL $(psql -X -At -d postgres -c 'SHOW server_version'), $(nproc) cores"
BENCH_DATASET_DSN="dbname=mcp_demo;host=127.0.0.1;port=$PORT" BENCH_DATASET_PASSWORD=$PASSWORD \
BENCH_TOKEN_SCRIPT=$ROOT/test/bench/token_counts.js BENCH_NODE_MODULES=$NODE_DIR/node_modules \
BENCH_WORK=$WORK perl "$ROOT/test/bench/query_bench.pl"
