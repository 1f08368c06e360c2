#!/usr/bin/env bash
# Benchmark: profiling the demo panel at SCALE (default 100: 100,000 panelists, about 2M
# events) with mcp_analytics' profiler against the original plan's method (a COUNT query per
# column per table: nulls per column, distinct per text column, min/max per date column, a
# 1,000-row sample), measured in the same run on the same throwaway cluster. Also reports the
# token estimate's error on the demo context, against the exact o200k count (and checks the
# exact count against js-tiktoken, fetched from npm into the work folder, when npm works).
# Ours is timed from the request (mcp.reprofile_dataset) to the job's status "done", as a
# client sees it, with the worker's phases (result -> 'phases'); the fixed cost is the same
# on a one-table, ten-row dataset.
#
#   test/bench/profiler_bench.sh            SCALE=100 by default; SCALE=1 for a quick look
#                                           REPS=3: runs per figure (the median is shown)
#
# Prints figures and ratios; never fails on a timing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCALE=${SCALE:-100}
unset MCP_ANALYTICS_LLM_API_KEY PGOPTIONS
# shellcheck source=bench_cluster.sh
. "$ROOT/test/bench/bench_cluster.sh"
bench_cluster_start mcp_bench 54500
sql() { bench_sql "$@"; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }

echo "== loading the demo panel at scale $SCALE"
started=$(now)
bench_load_demo "$SCALE"
sql -d mcp_demo -c "SELECT format('panelists %s, events %s, daily_app_usage %s rows', (SELECT count(*) FROM panelists),
                           (SELECT count(*) FROM events), (SELECT count(*) FROM daily_app_usage))"
printf 'loaded in %.1f s\n' "$(elapsed "$started")"
ID=$(bench_register bench bench_demo)

# One profile by the background worker, timed as a client sees it: from sending
# mcp.reprofile_dataset to reading the job's status "done" (polled every 2 ms on the same
# connection). Prints "request_to_done_s started_to_finished_s queries methods status phases".
cat > "$WORK/profile_once.pl" <<'PERL'
use strict;
use DBI;
use Time::HiRes qw(time sleep);
my $dbh = DBI->connect('dbi:Pg:dbname=bench', 'postgres', '', {RaiseError => 1, PrintError => 0, AutoCommit => 1});
my $t0 = time;
my ($job) = $dbh->selectrow_array(q{SELECT mcp.reprofile_dataset($1, ARRAY['public'])}, undef, $ARGV[0]);
my $status = '';
for (;;) {
    ($status) = $dbh->selectrow_array('SELECT status FROM mcp.jobs WHERE id = $1', undef, $job);
    last unless $status eq 'queued' || $status eq 'running';
    sleep 0.002;
}
my $wall = time - $t0;
my @r = $dbh->selectrow_array(q{SELECT round(extract(epoch FROM finished_at - started_at)::numeric, 3), result ->> 'remote_queries',
                                       replace(result ->> 'methods', ' ', ''), coalesce(result -> 'phases', '{}')
                                  FROM mcp.jobs WHERE id = $1}, undef, $job);
$dbh->do(q{SELECT mcp.wait_for_jobs($1, '5 minutes')}, undef, $ARGV[0]);  # the metadata job that follows
printf "%.3f %s %s %s %s %s\n", $wall, map({ $_ // '-' } @r[0 .. 2]), $status, $r[3] // '{}';
PERL
profile_once() {  # dataset_id
    perl "$WORK/profile_once.pl" "$1"
}
# The median of REPS profiles: prints the line of the median request-to-done time.
REPS=${REPS:-3}
profile_median() {  # dataset_id
    local i
    for ((i = 0; i < REPS; i++)); do profile_once "$1"; done | sort -n | sed -n "$(((REPS + 1) / 2))p"
}
show_phases() {  # phases JSON: the worker's phases in ms, largest first
    perl -MJSON::PP -e 'my $p = decode_json($ARGV[0]); print "   phases (ms): ", join(", ", map { "$_ $p->{$_}" } sort { $p->{$b} <=> $p->{$a} } keys %$p), "\n"' "$1"
}

echo
echo "== fixed cost: re-profiling a tiny dataset (one table of 10 rows), median of $REPS"
sql -d postgres -c "CREATE DATABASE mcp_tiny TEMPLATE template0" >/dev/null
sql -d mcp_tiny -c "CREATE TABLE tiny AS SELECT g AS id, 'name ' || g AS name, date '2026-01-01' + g AS day FROM generate_series(1, 10) g;
                    GRANT SELECT ON tiny TO mcp_demo_reader" >/dev/null
TINY_ID=$(CONNINFO=${CONNINFO/dbname=mcp_demo/dbname=mcp_tiny} perl -MDBI -e '
    my $dbh = DBI->connect("dbi:Pg:dbname=bench", "postgres", "", {RaiseError => 1, PrintError => 0});
    $dbh->do("SET mcp_analytics.profile_on_register = off");
    print $dbh->selectrow_array("SELECT mcp.register_dataset(\$1, \$2)", undef, "bench_tiny", $ENV{CONNINFO});')
profile_once "$TINY_ID" >/dev/null  # the first connection to a new database warms its caches
read -r tiny_s tiny_run tiny_q tiny_methods tiny_status tiny_phases < <(profile_median "$TINY_ID")
printf '   request to done %.1f ms (the worker: %.1f ms), %s queries (%s)\n' "$(echo "$tiny_s * 1000" | bc -l)" \
    "$(echo "$tiny_run * 1000" | bc -l)" "$tiny_q" "$tiny_status"
show_phases "$tiny_phases"
cat > "$WORK/tiny_plan.sql" <<'SQL'
SELECT count(*) FROM tiny;
SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'tiny' ORDER BY ordinal_position;
SELECT * FROM tiny LIMIT 1000;
SELECT count(*) FROM tiny WHERE id IS NULL;
SELECT count(*) FROM tiny WHERE name IS NULL; SELECT count(DISTINCT name) FROM tiny;
SELECT count(*) FROM tiny WHERE day IS NULL; SELECT min(day), max(day) FROM tiny;
SQL
run_as_reader() {  # file [database] -> "seconds queries": psql's start and connection included
    local started
    started=$(now)
    PGPASSWORD=$PASSWORD psql -X -q -h 127.0.0.1 -p "$PORT" -U mcp_demo_reader -d "${2:-mcp_demo}" -f "$1" >/dev/null
    echo "$(elapsed "$started") $(grep -o 'SELECT ' "$1" | wc -l)"
}
read -r tiny_plan_s tiny_plan_q < <(run_as_reader "$WORK/tiny_plan.sql" mcp_tiny)
printf '   the original plan on it: %.1f ms, %d queries (psql start and connection included)\n' \
    "$(echo "$tiny_plan_s * 1000" | bc -l)" "$tiny_plan_q"

echo
echo "== mcp_analytics profiler at scale $SCALE (default: exact scans up to 1,000,000 rows, pg_stats above), median of $REPS"
read -r ours_s ours_run ours_q ours_methods ours_status ours_phases < <(profile_median "$ID")
echo "   request to done $ours_s s (the worker: $ours_run s), $ours_q queries, $ours_methods ($ours_status)"
show_phases "$ours_phases"

echo "== mcp_analytics profiler, every table scanned exactly (an aggregate scan and a grouped pass per table)"
sql -d bench -c "ALTER DATABASE bench SET mcp_analytics.profile_exact_row_limit = 2000000000"
read -r exact_s exact_run exact_q exact_methods exact_status exact_phases < <(profile_median "$ID")
echo "   request to done $exact_s s (the worker: $exact_run s), $exact_q queries, $exact_methods ($exact_status)"
show_phases "$exact_phases"
sql -d bench -c "ALTER DATABASE bench RESET mcp_analytics.profile_exact_row_limit"

echo "== the original plan's method: COUNT queries per column per table, median of $REPS"
# As the plan's SchemaProfiler: per table count(*), information_schema columns, a 1,000-row
# sample; per column a null count; distinct counts for text; min/max for dates.
sql -d mcp_demo > "$WORK/original_plan.sql" <<'SQL'
SELECT format('SELECT count(*) FROM %I;', table_name) || E'\n' ||
       format('SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = %L ORDER BY ordinal_position;', table_name) || E'\n' ||
       format('SELECT * FROM %I LIMIT 1000;', table_name) || E'\n' ||
       (SELECT string_agg(
            format('SELECT count(*) FROM %I WHERE %I IS NULL;', c.table_name, c.column_name) ||
            CASE WHEN c.data_type IN ('character varying', 'text', 'varchar')
                 THEN format(' SELECT count(DISTINCT %I) FROM %I;', c.column_name, c.table_name) ELSE '' END ||
            CASE WHEN c.data_type IN ('date', 'timestamp without time zone', 'timestamp with time zone')
                 THEN format(' SELECT min(%I), max(%I) FROM %I;', c.column_name, c.column_name, c.table_name) ELSE '' END,
            E'\n' ORDER BY c.ordinal_position)
          FROM information_schema.columns c WHERE c.table_schema = 'public' AND c.table_name = t.table_name)
  FROM information_schema.tables t WHERE t.table_schema = 'public' AND t.table_type = 'BASE TABLE' ORDER BY t.table_name;
SQL
read -r original_s original_q < <(for ((i = 0; i < REPS; i++)); do run_as_reader "$WORK/original_plan.sql"; done |
                                  sort -n | sed -n "$(((REPS + 1) / 2))p")
printf '   %.3f s, %d queries\n' "$original_s" "$original_q"

echo "== the same per-column method, asked for the statistics mcp_analytics collects"
# Distinct count of every column, min/max of numbers and dates, top values of text: still one
# query per column and statistic.
sql -d mcp_demo > "$WORK/per_column_full.sql" <<'SQL'
SELECT string_agg(
         format('SELECT count(*) - count(%1$I), count(DISTINCT %1$I) FROM %2$I;', c.column_name, c.table_name) ||
         CASE WHEN c.data_type IN ('integer', 'bigint', 'numeric', 'date', 'timestamp with time zone')
              THEN format(' SELECT min(%1$I), max(%1$I) FROM %2$I;', c.column_name, c.table_name) ELSE '' END ||
         CASE WHEN c.data_type = 'text'
              THEN format(' SELECT %1$I, count(*) FROM %2$I GROUP BY 1 ORDER BY 2 DESC LIMIT 10;', c.column_name, c.table_name) ELSE '' END,
         E'\n' ORDER BY c.table_name, c.ordinal_position) ||
       E'\n' || string_agg(DISTINCT format('SELECT count(*) FROM %I; SELECT * FROM %I LIMIT 10;', c.table_name, c.table_name), E'\n')
  FROM information_schema.columns c WHERE c.table_schema = 'public';
SQL
read -r full_s full_q < <(run_as_reader "$WORK/per_column_full.sql")
printf '   %.3f s, %d queries\n' "$full_s" "$full_q"

echo
echo "== profiling at scale $SCALE (speed-up against the original plan's method; ours: request to done)"
printf '%-58s %10s %8s %10s\n' "method" "seconds" "queries" "speed-up"
printf '%-58s %10.3f %8d %9.1fx\n' "original plan (COUNT per column per table)" "$original_s" "$original_q" 1
printf '%-58s %10.3f %8d %9.1fx\n' "same method, ours' statistics (query per column)" "$full_s" "$full_q" "$(echo "$original_s / $full_s" | bc -l)"
printf '%-58s %10.3f %8d %9.1fx\n' "mcp_analytics, exact scans (two per table)" "$exact_s" "$exact_q" "$(echo "$original_s / $exact_s" | bc -l)"
printf '%-58s %10.3f %8d %9.1fx\n' "mcp_analytics, default (pg_stats above 1M rows)" "$ours_s" "$ours_q" "$(echo "$original_s / $ours_s" | bc -l)"
printf '%-58s %10.3f %8d %9.1fx\n' "mcp_analytics, tiny dataset (fixed cost)" "$tiny_s" "$tiny_q" "$(echo "$tiny_plan_s / $tiny_s" | bc -l)"
# For make bench's report (test/bench/report.sh).
if [ -n "${BENCH_REPORT:-}" ]; then
    printf 'profiling at scale %s, mcp_analytics default, request to done (s)\t%.3f\ts\toriginal plan, per column\t%.3f\t>= 10x faster at 2M events (scale 100); never slower\n' \
        "$SCALE" "$ours_s" "$original_s" >>"$BENCH_REPORT"
    printf 'profiling fixed cost: tiny dataset, request to done (ms)\t%.1f\tms\toriginal plan on it (psql)\t%.1f\t< 100 ms\n' \
        "$(echo "$tiny_s * 1000" | bc -l)" "$(echo "$tiny_plan_s * 1000" | bc -l)" >>"$BENCH_REPORT"
fi

echo
echo "== token counts of the demo context: estimate against exact o200k"
sql -d bench -c "SELECT mcp.approve_dataset($ID, 'bench')" >/dev/null
for level in 0 1 2 3; do
    case $level in 0|1) args=$level ;; 2) args="2, $ID" ;; 3) args="3, $ID, 'events'" ;; esac
    sql -d bench -c "SELECT mcp.context($args)" > "$WORK/context_$level.txt"
done
chmod 644 "$WORK"/context_*.txt
NODE_DIR=$WORK/node
RANKS=$WORK/keys/o200k_base.tiktoken
if command -v npm >/dev/null && npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent js-tiktoken@1.0.21 >/dev/null 2>&1; then
    MODULE=$NODE_DIR/node_modules/js-tiktoken
    node "$ROOT/test/bench/o200k_reference.js" ranks "$MODULE" "$RANKS"
    chmod 644 "$RANKS"
    declare -A reference
    while read -r count file; do reference[$file]=$count; done < <(node "$ROOT/test/bench/o200k_reference.js" count "$MODULE" "$WORK"/context_*.txt)
    printf '%-8s %12s %14s %10s %8s\n' "level" "js-tiktoken" "mcp (o200k)" "estimate" "error"
    total_exact=0; total_estimate=0
    for level in 0 1 2 3; do
        file=$WORK/context_$level.txt
        exact=$(sql -d bench -v f="$file" -v r="$RANKS" <<'SQL'
SET mcp_analytics.token_rank_file = :'r';
SELECT mcp.count_tokens(pg_read_file(:'f'));
SQL
)
        estimate=$(sql -d bench -v f="$file" <<'SQL'
SELECT mcp.count_tokens(pg_read_file(:'f'));
SQL
)
        total_exact=$((total_exact + exact)); total_estimate=$((total_estimate + estimate))
        printf '%-8s %12s %14s %10s %7.1f%%\n' "$level" "${reference[$file]}" "$exact" "$estimate" \
            "$(echo "100 * ($estimate - $exact) / $exact" | bc -l)"
    done
    printf '%-8s %12s %14s %10s %7.1f%%\n' "all" "" "$total_exact" "$total_estimate" \
        "$(echo "100 * ($total_estimate - $total_exact) / $total_exact" | bc -l)"
else
    echo "npm could not install js-tiktoken here: estimates only"
    for level in 0 1 2 3; do
        sql -d bench -v f="$WORK/context_$level.txt" <<'SQL'
SELECT 'level ' || substr(:'f', length(:'f') - 4, 1) || ': ' || mcp.count_tokens(pg_read_file(:'f')) || ' tokens (estimate)';
SQL
    done
fi
