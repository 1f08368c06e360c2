#!/usr/bin/env bash
# Benchmark: the C++ reach aggregate (mcp.weighted_reach, each user counted once through a hash
# set) against the plain-SQL equivalents (a DISTINCT-users sub-query, and EXISTS), on the demo
# panel at SCALE times its size (100: 100,000 panelists, about 2M events), in the same run.
# Also the full estimate (SE and interval) of the aggregate against the compiled plain SQL of
# weighted_query; and, per measure family, the statement weighted_query sends to the dataset
# server against the fastest hand-written SQL for the same figures (EXPLAIN says which plans
# are parallel). Prints medians and ratios, and with BENCH_REPORT set adds one line per
# measure family to make bench's report; never fails on a timing.
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

SHAPES_REPORT=$(mktemp)  # the report lines of the plan-shape comparison
psql -X -q -v ON_ERROR_STOP=1 -v reps="$REPS" -v scale="$SCALE" -v shapes_report="$SHAPES_REPORT" -d "$DB" <<'SQL' ||
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

-- ---- weighted_query's compiled statement against the fastest hand-written SQL ----------------
-- For each measure family: the statement mcp.weighted_query sends to the dataset server (from
-- mcp.weighted_query_sql) and hand-written SQL for the same figures (value, se, base, n_eff),
-- each the plain shape an analyst would write: EXISTS semi-join for reach, a pre-aggregated
-- GROUP BY user_id of the events joined to the panelists for frequencies, pre-aggregated
-- (user, group) pairs for event-column groups. Where two hand-written shapes are given, the
-- faster one in this run is the baseline. Hand-written SE uses the one-pass form
-- S = Σw²x² − 2mΣw²x + m²Σw² (weighted_query centres first, as the house rules require).
SET max_parallel_workers_per_gather = DEFAULT;
-- Every row of a figure set as text, 8 significant digits: both sides must agree.
CREATE FUNCTION pg_temp.figures(statement text, keys text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE result text;
BEGIN
    EXECUTE format($f$SELECT string_agg(line, ' ' ORDER BY line) FROM (
        SELECT concat_ws('|', %s, to_char(value, '9.9999999EEEE'), to_char(se, '9.9999999EEEE'), base,
                         to_char(n_eff, '9.9999999EEEE')) AS line FROM (%s) t) l$f$,
        coalesce(nullif(keys, ''), '''all'''), statement) INTO result;
    RETURN result;
END $$;
CREATE FUNCTION pg_temp.parallel(statement text) RETURNS boolean LANGUAGE plpgsql STRICT AS $$
DECLARE line text; found boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || statement LOOP
        found := found OR line ~ 'Gather';
    END LOOP;
    RETURN found;
END $$;
-- Median ms of REPS runs (after a warm-up) of each side's figure set; the sides take turns in
-- every round, so a load change on the shared machine hits them alike.
CREATE FUNCTION pg_temp.duel(statements text[], keys text, reps integer,
                             OUT median_ms numeric[], OUT results text[]) LANGUAGE plpgsql AS $$
DECLARE times double precision[] := '{}'; started timestamptz; sides integer := array_length(statements, 1);
BEGIN
    FOR s IN 1..sides LOOP
        results[s] := pg_temp.figures(statements[s], keys);
    END LOOP;
    FOR i IN 1..reps LOOP
        FOR s IN 1..sides LOOP
            started := clock_timestamp();
            PERFORM pg_temp.figures(statements[s], keys);
            times := times || ARRAY[s, extract(epoch FROM clock_timestamp() - started) * 1000];
        END LOOP;
    END LOOP;
    SELECT array_agg(m ORDER BY side) INTO median_ms FROM (
        SELECT times[2 * i - 1] AS side, round(percentile_cont(0.5) WITHIN GROUP (ORDER BY times[2 * i])::numeric, 1) AS m
          FROM generate_series(1, array_length(times, 1) / 2) i GROUP BY 1) t;
END $$;

CREATE TEMP TABLE shapes (n int, family text, spec jsonb, keys text, hand text, hand2 text);
INSERT INTO shapes VALUES
(1, 'reach, any event', '{"measure": "reach", "event_table": "events"}', '',
 $q$SELECT r.sw AS value, sqrt(t.k / (t.k - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0) t,
           (SELECT sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
             WHERE weight > 0 AND EXISTS (SELECT 1 FROM events e WHERE e.user_id = p.user_id)) r$q$,
 $q$SELECT r.sw AS value, sqrt(t.k / (t.k - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0) t,
           (SELECT sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
              JOIN (SELECT user_id FROM events GROUP BY user_id) e USING (user_id) WHERE weight > 0) r$q$),
(2, 'reach, purchase filter', '{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''purchase''"}', '',
 $q$SELECT r.sw AS value, sqrt(t.k / (t.k - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0) t,
           (SELECT sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
             WHERE weight > 0 AND EXISTS (SELECT 1 FROM events e WHERE e.user_id = p.user_id AND e.event_type = 'purchase')) r$q$,
 NULL),
(3, 'reach_pct by gender, view filter', '{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''view''", "group_by": ["gender"]}', 'gender',
 $q$SELECT t.gender, r.sw / t.sw AS value, sqrt(d.n / (d.n - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) / t.sw AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS n FROM panelists WHERE weight > 0) d,
           (SELECT gender, count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0 GROUP BY gender) t
      JOIN (SELECT gender, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
             WHERE weight > 0 AND EXISTS (SELECT 1 FROM events e WHERE e.user_id = p.user_id AND e.event_type = 'view')
             GROUP BY gender) r USING (gender)$q$,
 NULL),
(4, 'reach_pct by NCCS map, purchase, age>=25', '{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''purchase''", "user_filter": "age >= 25", "group_by": ["nccs"]}', 'nccs',
 $q$SELECT t.nccs, r.sw / t.sw AS value, sqrt(d.n / (d.n - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) / t.sw AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS n FROM panelists WHERE weight > 0) d,
           (SELECT CASE WHEN nccs LIKE 'A%' THEN 'A' WHEN nccs LIKE 'B%' THEN 'B' ELSE 'C/D/E' END AS nccs, count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv
              FROM panelists WHERE weight > 0 AND age >= 25 GROUP BY 1) t
      JOIN (SELECT CASE WHEN nccs LIKE 'A%' THEN 'A' WHEN nccs LIKE 'B%' THEN 'B' ELSE 'C/D/E' END AS nccs, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
             WHERE weight > 0 AND age >= 25 AND EXISTS (SELECT 1 FROM events e WHERE e.user_id = p.user_id AND e.event_type = 'purchase')
             GROUP BY 1) r USING (nccs)$q$,
 NULL),
(5, 'reach by app (event column)', '{"measure": "reach", "event_table": "events", "group_by": ["events.app"]}', 'app',
 $q$SELECT r.app, r.sw AS value, sqrt(t.k / (t.k - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0) t,
           (SELECT e.app, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
              JOIN (SELECT user_id, app FROM events GROUP BY user_id, app) e USING (user_id) WHERE weight > 0 GROUP BY e.app) r$q$,
 $q$SELECT r.app, r.sw AS value, sqrt(t.k / (t.k - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0) t,
           (SELECT a.app, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
              JOIN (SELECT DISTINCT app FROM events) a ON EXISTS (SELECT 1 FROM events e WHERE e.user_id = p.user_id AND e.app = a.app)
             WHERE weight > 0 GROUP BY a.app) r$q$),
(6, 'reach by gender x platform', '{"measure": "reach", "event_table": "events", "event_filter": "event_type <> ''view''", "group_by": ["gender", "events.platform"]}', 'gender, platform',
 $q$SELECT t.gender, r.platform, r.sw AS value, sqrt(d.n / (d.n - 1.0) * (r.sv * (1 - r.sw / t.sw) ^ 2 + (t.sv - r.sv) * (r.sw / t.sw) ^ 2)) AS se,
           t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS n FROM panelists WHERE weight > 0) d,
           (SELECT gender, count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0 GROUP BY gender) t
      JOIN (SELECT gender, e.platform, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists p
              JOIN (SELECT user_id, platform FROM events WHERE event_type <> 'view' GROUP BY user_id, platform) e USING (user_id)
             WHERE weight > 0 GROUP BY gender, e.platform) r USING (gender)$q$,
 NULL),
(7, 'avg_frequency, view filter', '{"measure": "avg_frequency", "event_table": "events", "event_filter": "event_type = ''view''"}', '',
 $q$SELECT m AS value, sqrt(d.n / (d.n - 1.0) * greatest(swxx - 2 * m * swx2 + m * m * sv, 0)) / sw AS se, k AS base, sw ^ 2 / sv AS n_eff
      FROM (SELECT count(*) AS n FROM panelists WHERE weight > 0) d,
           (SELECT *, swx / sw AS m FROM (
              SELECT count(*) AS k, sum(w) AS sw, sum(w * w) AS sv, sum(w * x) AS swx, sum(w * w * x) AS swx2, sum(w * w * x * x) AS swxx
                FROM (SELECT weight::float8 AS w, e.x FROM panelists p
                        JOIN (SELECT user_id, count(*)::float8 AS x FROM events WHERE event_type = 'view' GROUP BY user_id) e USING (user_id)
                       WHERE weight > 0) u) s) s$q$,
 NULL),
(8, 'projected_events by gender, purchase', '{"measure": "projected_events", "event_table": "events", "event_filter": "event_type = ''purchase''", "group_by": ["gender"]}', 'gender',
 $q$SELECT gender, swx AS value, sqrt(d.n / (d.n - 1.0) * greatest(swxx - 2 * m * swx2 + m * m * sv, 0)) AS se, k AS base, sw ^ 2 / sv AS n_eff
      FROM (SELECT count(*) AS n FROM panelists WHERE weight > 0) d,
           (SELECT *, swx / sw AS m FROM (
              SELECT gender, count(*) AS k, sum(w) AS sw, sum(w * w) AS sv, sum(w * x) AS swx, sum(w * w * x) AS swx2, sum(w * w * x * x) AS swxx
                FROM (SELECT gender, weight::float8 AS w, coalesce(e.x, 0) AS x FROM panelists p
                        LEFT JOIN (SELECT user_id, count(*)::float8 AS x FROM events WHERE event_type = 'purchase' GROUP BY user_id) e USING (user_id)
                       WHERE weight > 0) u GROUP BY gender) s) s$q$,
 NULL),
(9, 'projected_events by platform (event col)', '{"measure": "projected_events", "event_table": "events", "group_by": ["events.platform"]}', 'platform',
 $q$SELECT platform, swx AS value, sqrt(t.k / (t.k - 1.0) * greatest(swxx - 2 * m * swx2 + m * m * t.sv, 0)) AS se, t.k AS base, t.sw ^ 2 / t.sv AS n_eff
      FROM (SELECT count(*) AS k, sum(weight::float8) AS sw, sum(weight::float8 ^ 2) AS sv FROM panelists WHERE weight > 0) t,
           LATERAL (SELECT *, swx / t.sw AS m FROM (
              SELECT platform, sum(w * x) AS swx, sum(w * w * x) AS swx2, sum(w * w * x * x) AS swxx
                FROM (SELECT e.platform, weight::float8 AS w, e.x FROM panelists p
                        JOIN (SELECT user_id, platform, count(*)::float8 AS x FROM events GROUP BY user_id, platform) e USING (user_id)
                       WHERE weight > 0) u GROUP BY platform) s) s$q$,
 NULL);

CREATE TEMP TABLE shape_times AS
SELECT s.n, s.family, d.median_ms[1] AS ours_ms, d.median_ms[2] AS hand_ms, d.median_ms[3] AS hand2_ms,
       least(d.median_ms[2], d.median_ms[3]) AS fastest_ms,
       d.results[1] = d.results[2] AND (s.hand2 IS NULL OR d.results[1] = d.results[3]) AS same_figures,
       pg_temp.parallel(c.sql) AS ours_parallel,
       pg_temp.parallel(s.hand) OR coalesce(pg_temp.parallel(s.hand2), false) AS hand_parallel
  FROM shapes s
 CROSS JOIN LATERAL (SELECT mcp.weighted_query_sql(s.spec, 'panelists', 'user_id', 'weight') AS sql) c
 CROSS JOIN LATERAL pg_temp.duel(array_remove(ARRAY[c.sql, s.hand, s.hand2], NULL), s.keys, :reps) d;

\echo
\echo == the weighted_query statement against the fastest hand-written SQL (default plan settings)
SELECT n, family, ours_ms, hand_ms, hand2_ms, round(ours_ms / nullif(fastest_ms, 0), 2) AS ratio,
       same_figures, ours_parallel, hand_parallel
  FROM shape_times ORDER BY n;
\echo ratio = ours_ms / the faster hand-written shape (at most 1.05: no slower within noise).
\echo hand2 is a second hand-written shape (pre-aggregated join for reach, EXISTS per app for
\echo groups). *_parallel: the plan has a Gather (EXPLAIN).

-- One line per measure family for make bench's report (test/bench/report.sh).
\pset tuples_only on
\pset format unaligned
\o :shapes_report
SELECT format(E'weighted_query %s (ms)\t%s\tms\tfastest hand-written SQL\t%s\t<= 1.05x (scale %s), same figures: %s',
              family, ours_ms, fastest_ms, :scale, CASE WHEN same_figures THEN 'yes' ELSE 'NO' END)
  FROM shape_times ORDER BY n;
\o
SQL
    { rm -f "$SHAPES_REPORT"; exit 1; }
if [ -n "${BENCH_REPORT:-}" ]; then cat "$SHAPES_REPORT" >>"$BENCH_REPORT"; fi
rm -f "$SHAPES_REPORT"
