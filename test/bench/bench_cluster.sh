# Sourced by the benchmarks: a throwaway cluster with the demo panel and mcp_analytics.
#
#   bench_cluster_start PREFIX BASE_PORT   install into build/pg, start a cluster in
#                                          /tmp/PREFIX.XXXXXX (stopped and removed on exit);
#                                          sets WORK, PORT, PG* variables
#   bench_load_demo SCALE [EXTRA_SQL]      demo panel in mcp_demo with read-only role
#                                          mcp_demo_reader; sets PASSWORD and CONNINFO
#   bench_register DATABASE NAME           creates DATABASE with the extension, registers the
#                                          demo as NAME (string as a bind parameter); prints the id
#   bench_node_modules                     installs test/bench's pinned npm packages into
#                                          build/bench-node; prints its node_modules path
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_SUPPORT=$BENCH_ROOT/test/support

bench_sql() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

bench_cluster_start() {
    local prefix=$1 base_port=$2
    # This tree's build, in its private copy of the installation (as make test does).
    local bindir
    bindir=$("$BENCH_SUPPORT/private_pg.sh" "$BENCH_ROOT/build/pg") || return 1
    export PATH=$bindir:$PATH
    WORK=$(mktemp -d "/tmp/$prefix.XXXXXX")
    chmod 755 "$WORK"
    trap '"$BENCH_SUPPORT/pg_cluster.sh" stop "$WORK"; rm -rf "$WORK"' EXIT
    "$BENCH_SUPPORT/pg_cluster.sh" init "$WORK" "$("$BENCH_SUPPORT/pg_cluster.sh" free-port "$base_port")" >/dev/null
    "$BENCH_SUPPORT/pg_cluster.sh" start "$WORK"
    PORT=$("$BENCH_SUPPORT/pg_cluster.sh" port "$WORK")
    export PGHOST=$WORK/socket PGPORT=$PORT PGUSER=postgres
}

bench_load_demo() {
    local scale=$1 extra_sql=${2:-}
    PASSWORD="bench-$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    CONNINFO="host=127.0.0.1 port=$PORT dbname=mcp_demo user=mcp_demo_reader password=$PASSWORD"
    bench_sql -d postgres -c "CREATE DATABASE mcp_demo"
    bench_sql -d mcp_demo -v scale="$scale" -f "$BENCH_ROOT/test/fixtures/demo_dataset.sql" >/dev/null
    bench_sql -d mcp_demo -v pw="$PASSWORD" >/dev/null <<SQL
CREATE ROLE mcp_demo_reader LOGIN PASSWORD :'pw';
GRANT SELECT ON ALL TABLES IN SCHEMA public TO mcp_demo_reader;
$extra_sql
SQL
}

bench_register() {
    local database=$1 name=$2
    bench_sql -d postgres -c "CREATE DATABASE $database"
    bench_sql -d "$database" -c "CREATE EXTENSION mcp_analytics"
    CONNINFO=$CONNINFO perl -MDBI -e '
        my $dbh = DBI->connect("dbi:Pg:dbname='"$database"'", "postgres", "", {RaiseError => 1, PrintError => 0});
        $dbh->do("SET mcp_analytics.profile_on_register = off");
        print $dbh->selectrow_array("SELECT mcp.register_dataset(\$1, \$2)", undef, "'"$name"'", $ENV{CONNINFO});'
}

bench_node_modules() {
    local node_dir=$BENCH_ROOT/build/bench-node
    mkdir -p "$node_dir"
    cp "$BENCH_ROOT/test/bench/package.json" "$BENCH_ROOT/test/bench/package-lock.json" "$node_dir/"
    (cd "$node_dir" && npm ci --no-audit --no-fund --silent >/dev/null) || return 1
    echo "$node_dir/node_modules"
}
