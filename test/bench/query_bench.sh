#!/usr/bin/env bash
# Benchmark of query execution on a throwaway cluster: see query_bench.pl for what it prints.
#   test/bench/query_bench.sh          ROUNDS=2000 by default
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=bench_cluster.sh
. "$ROOT/test/bench/bench_cluster.sh"
bench_cluster_start mcp_query_bench 55600
bench_load_demo 1 "CREATE SCHEMA trap;
CREATE FUNCTION trap.slow(seconds float8) RETURNS float8 LANGUAGE sql
    AS 'SELECT pg_sleep(seconds); SELECT seconds';
GRANT USAGE ON SCHEMA trap TO mcp_demo_reader;"
ID=$(bench_register mcp_bench bench_demo)
bench_sql -d mcp_bench -c "SELECT count(mcp.set_dataset_status($ID, s)) FROM unnest(ARRAY['profiling', 'metadata_pending', 'approved']) s" >/dev/null

BENCH_NODE_MODULES=$(bench_node_modules)

echo "query execution benchmark: PostgreSQL $(psql -X -At -d postgres -c 'SHOW server_version'), $(nproc) cores"
BENCH_DATASET_DSN="dbname=mcp_demo;host=127.0.0.1;port=$PORT" BENCH_DATASET_PASSWORD=$PASSWORD \
BENCH_TOKEN_SCRIPT=$ROOT/test/bench/token_counts.js BENCH_NODE_MODULES=$BENCH_NODE_MODULES \
BENCH_WORK=$WORK perl "$ROOT/test/bench/query_bench.pl"
