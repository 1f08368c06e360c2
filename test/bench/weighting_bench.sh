#!/usr/bin/env bash
# Benchmark: the C++ reach aggregate (mcp.weighted_reach, each user counted once through a hash
# set) against the plain-SQL equivalents (a DISTINCT-users sub-query, and EXISTS), on the demo
# panel at SCALE times its size (100: 100,000 panelists, about 2M events), in the same run.
# Also the full estimate (SE and interval) of the aggregate against the compiled plain SQL of
# weighted_query. Prints medians and ratios; never fails on a timing.
#
#   test/bench/weighting_bench.sh                 own throwaway cluster, SCALE=100, REPS=5
#   SCALE=10 REPS=3 test/bench/weighting_bench.sh
#   BENCH_DATABASE=dbname test/bench/weighting_bench.sh   an existing database (PGHOST, PGPORT,
#       PGUSER from the environment) that has mcp_analytics installed; the demo panel is
#       (re)loaded into its public schema.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SCALE=${SCALE:-100}
REPS=${REPS:-5}
SUPPORT=$ROOT/test/support

if [ -z "${BENCH_DATABASE:-}" ]; then
    # This tree's build in its private copy of PostgreSQL, as the other benchmarks.
    # shellcheck source=bench_cluster.sh
    . "$ROOT/test/bench/bench_cluster.sh"
    bench_cluster_start mcp_weighting_bench 55400 >/dev/null
    psql -X -q -d postgres -c "CREATE DATABASE bench" >/dev/null
    psql -X -q -d bench -c "CREATE EXTENSION mcp_analytics" >/dev/null
    DB=bench
else
    DB=$BENCH_DATABASE
fi

echo "== loading the demo panel at scale $SCALE"
started=$(date +%s)
psql -X -q -v ON_ERROR_STOP=1 -v scale="$SCALE" -d "$DB" -f "$ROOT/test/fixtures/demo_dataset.sql" >/dev/null
psql -X -q -d "$DB" -c "VACUUM ANALYZE panelists" -c "VACUUM ANALYZE events" >/dev/null
echo "   loaded in $(( $(date +%s) - started )) s"

psql -X -q -v ON_ERROR_STOP=1 -v reps="$REPS" -d "$DB" <<'SQL'
\pset footer off
SET client_min_messages = warning;
-- Median wall time (ms) of REPS runs of a statement, after one warm-up run; and its result.
CREATE FUNCTION pg_temp.bench(statement text, reps integer, OUT median_ms numeric, OUT result text)
LANGUAGE plpgsql AS $$
DECLARE
    times double precision[] := '{}';
    started timestamptz;
BEGIN
    EXECUTE statement INTO result;
    FOR i IN 1..reps LOOP
        started := clock_timestamp();
        EXECUTE statement INTO result;
        times := times || extract(epoch FROM clock_timestamp() - started) * 1000;
    END LOOP;
    SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t)::numeric, 1) INTO median_ms FROM unnest(times) t;
END $$;

SELECT count(*) AS events, (SELECT count(*) FROM panelists) AS panelists,
       current_setting('max_parallel_workers_per_gather') AS workers_per_gather FROM events;

-- Both sides read the weight as float8 once per panelist (w), not once per event row.
CREATE TEMP VIEW weights AS SELECT user_id, weight::float8 AS w FROM panelists OFFSET 0;
CREATE TEMP TABLE cases (n int, name text, cpp text, plain text);
INSERT INTO cases VALUES
(0, 'distinct users of all events (no weights)',
 $q$SELECT (mcp.weighted_reach(user_id, 1.0)).value::text FROM events$q$,
 $q$SELECT count(DISTINCT user_id)::text FROM events$q$),
(1, 'reach, all events',
 $q$SELECT round((mcp.weighted_reach(e.user_id, p.w)).value::numeric, 4)::text
      FROM events e JOIN weights p USING (user_id)$q$,
 $q$SELECT round(sum(w)::numeric, 4)::text FROM (SELECT DISTINCT e.user_id, p.w
      FROM events e JOIN weights p USING (user_id) WHERE p.w > 0) s$q$),
(2, 'reach, all events (plain: EXISTS)',
 $q$SELECT round((mcp.weighted_reach(e.user_id, p.w)).value::numeric, 4)::text
      FROM events e JOIN weights p USING (user_id)$q$,
 $q$SELECT round(sum(p.w)::numeric, 4)::text FROM weights p
     WHERE p.w > 0 AND EXISTS (SELECT 1 FROM events e WHERE e.user_id = p.user_id)$q$),
(3, 'reach of viewers (event_filter)',
 $q$SELECT round((mcp.weighted_reach(e.user_id, p.w)).value::numeric, 4)::text
      FROM events e JOIN weights p USING (user_id) WHERE e.event_type = 'view'$q$,
 $q$SELECT round(sum(w)::numeric, 4)::text FROM (SELECT DISTINCT e.user_id, p.w
      FROM events e JOIN weights p USING (user_id) WHERE e.event_type = 'view' AND p.w > 0) s$q$),
(4, 'reach by app (12 groups)',
 $q$SELECT string_agg(app || '=' || round(r::numeric, 4), ',' ORDER BY app) FROM (
      SELECT e.app, (mcp.weighted_reach(e.user_id, p.w)).value AS r
        FROM events e JOIN weights p USING (user_id) GROUP BY e.app) t$q$,
 $q$SELECT string_agg(app || '=' || round(r::numeric, 4), ',' ORDER BY app) FROM (
      SELECT app, sum(w) AS r FROM (SELECT DISTINCT e.app, e.user_id, p.w
        FROM events e JOIN weights p USING (user_id) WHERE p.w > 0) s GROUP BY app) t$q$),
(5, 'reach with SE and interval, by gender',
 $q$SELECT string_agg(gender || '=' || round(r::numeric, 4) || '±' || round(se::numeric, 4), ',' ORDER BY gender) FROM (
      SELECT p.gender, (x).value AS r, (x).se FROM (
        SELECT p.gender, mcp.weighted_reach(p.user_id, p.weight::float8, e.user_id IS NOT NULL,
                                            (SELECT count(*) FROM panelists WHERE weight > 0)) AS x
          FROM panelists p LEFT JOIN events e ON e.user_id = p.user_id AND e.event_type = 'purchase'
         GROUP BY p.gender) p) t$q$,
 $q$SELECT string_agg((r ->> 'gender') || '=' || round((r ->> 'value')::numeric, 4) || '±' || round((r ->> 'se')::numeric, 4), ',' ORDER BY r ->> 'gender')
      FROM jsonb_array_elements(mcp.weighted_query_local('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''purchase''", "group_by": ["gender"]}',
                                                         'panelists', 'user_id', 'weight') -> 'rows') r$q$);

\echo
\echo == default plan settings (parallel allowed)
SELECT c.n, c.name, a.median_ms AS cpp_ms, b.median_ms AS plain_ms,
       round(b.median_ms / nullif(a.median_ms, 0), 2) AS speedup, a.result = b.result AS same_result
  FROM cases c, pg_temp.bench(c.cpp, :reps) a, pg_temp.bench(c.plain, :reps) b ORDER BY c.n;

SET max_parallel_workers_per_gather = 0;
\echo == serial (max_parallel_workers_per_gather = 0)
SELECT c.n, c.name, a.median_ms AS cpp_ms, b.median_ms AS plain_ms,
       round(b.median_ms / nullif(a.median_ms, 0), 2) AS speedup, a.result = b.result AS same_result
  FROM cases c, pg_temp.bench(c.cpp, :reps) a, pg_temp.bench(c.plain, :reps) b ORDER BY c.n;
\echo speedup = plain_ms / cpp_ms (above 1: the C++ aggregate is faster). Case 0 is the hash set
\echo alone; in cases 1-4 most of the time is the join of events to panelists, which both sides
\echo pay. Case 5 compares the aggregate with the SQL weighted_query compiles (which also
\echo computes n_eff and the Korn-Graubard inputs).
SQL
