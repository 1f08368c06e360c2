-- Weighted aggregates under forced parallel plans: partial states built by workers, serialized,
-- combined (users split across workers merge by union) and finished give the serial figures
-- within 1e-9 relative; so does the compiled plain SQL.
BEGIN;
SELECT plan(18);

CREATE SCHEMA weighting_parallel;
-- 40,000 users in 300 groups with skewed weights (some NULL or zero), 0 to 7 events each.
CREATE TABLE weighting_parallel.users AS
SELECT g AS user_id,
       CASE WHEN g % 97 = 0 THEN NULL WHEN g % 89 = 0 THEN 0
            ELSE exp(3 * ((hashint4(g) & 1023) / 1023.0 - 0.5)) END::float8 AS weight,
       (hashint4(g * 7) & 1023) % 300 AS grp,
       15 + (hashint4(g * 3) & 63) AS age
  FROM generate_series(1, 40000) g;
CREATE TABLE weighting_parallel.events AS
SELECT u.user_id, CASE WHEN k % 3 = 0 THEN 'ctv' ELSE 'mobile' END AS platform,
       ((hashint4(u.user_id * 13 + k) & 255) / 10.0)::float8 AS spend
  FROM weighting_parallel.users u, generate_series(1, hashint4(u.user_id * 11) & 7) k;
ANALYZE weighting_parallel.users;
ANALYZE weighting_parallel.events;

-- Two figure sets agree when every number is within 1e-9 relative (and NULLs match).
CREATE FUNCTION pg_temp.close(a double precision, b double precision) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT (a IS NULL AND b IS NULL) OR abs(a - b) <= 1e-9 * greatest(abs(a), abs(b), 1e-300) $$;
CREATE FUNCTION pg_temp.same(a jsonb, b jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_array_length(a) = jsonb_array_length(b) AND bool_and(
             CASE WHEN jsonb_typeof(x.value) = 'number'
                  THEN pg_temp.close((x.value)::text::float8, (y.value)::text::float8)
                  ELSE x.value = y.value END)
      FROM jsonb_array_elements(a) WITH ORDINALITY ra(r, i)
      JOIN jsonb_array_elements(b) WITH ORDINALITY rb(r, i) USING (i)
     CROSS JOIN LATERAL jsonb_each(ra.r) x
      JOIN LATERAL jsonb_each(rb.r) y ON y.key = x.key
$$;
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || query LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END $$;

-- Each figure set as JSON (float8 printed exactly), computed by a top-level statement so that
-- the planner may parallelize it; stored in psql variables s1.. (serial) and p1.. (parallel).
CREATE FUNCTION pg_temp.compiled(spec jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT mcp.weighted_query_local(spec, 'weighting_parallel.users', 'user_id', 'weight') -> 'rows' $$;
\set q1 'SELECT jsonb_build_array(to_jsonb(mcp.weighted_reach(e.user_id, u.weight))) AS f FROM weighting_parallel.events e JOIN weighting_parallel.users u USING (user_id)'
\set q2 'SELECT jsonb_agg(to_jsonb(t) ORDER BY grp) AS f FROM (SELECT u.grp, (mcp.weighted_reach(u.user_id, u.weight, e.user_id IS NOT NULL, 39143)).* FROM weighting_parallel.users u LEFT JOIN weighting_parallel.events e ON e.user_id = u.user_id AND e.platform = \'ctv\' GROUP BY u.grp) t'
\set q3 'SELECT jsonb_build_array(to_jsonb(mcp.weighted_reach_pct(u.user_id, u.weight, e.user_id IS NOT NULL))) AS f FROM weighting_parallel.users u LEFT JOIN weighting_parallel.events e USING (user_id)'
\set q4 'SELECT jsonb_agg(to_jsonb(t) ORDER BY grp) AS f FROM (SELECT grp, (mcp.weighted_mean(age, weight, 39143)).* FROM weighting_parallel.users GROUP BY grp) t'
\set q5 'SELECT jsonb_build_array(to_jsonb(mcp.weighted_share(age >= 40, weight))) AS f FROM weighting_parallel.users'
\set q6 'SELECT jsonb_build_array(to_jsonb(mcp.weighted_total(spend, 1.0))) AS f FROM weighting_parallel.events'
\set q7 'SELECT jsonb_agg(to_jsonb(t) ORDER BY grp) AS f FROM (SELECT grp, (mcp.weighted_quantile(age, weight, 0.25)).* FROM weighting_parallel.users GROUP BY grp) t'
\set q8 'SELECT jsonb_build_array(jsonb_build_object(\'n_eff\', mcp.kish_n_eff(weight))) AS f FROM weighting_parallel.users'
\set c1 'SELECT pg_temp.compiled(\'{"measure": "reach_pct", "event_table": "weighting_parallel.events", "event_filter": "platform = \'\'ctv\'\'", "group_by": ["grp"]}\') AS f'
\set c2 'SELECT pg_temp.compiled(\'{"measure": "mean", "metric": "sum(spend)", "event_table": "weighting_parallel.events", "group_by": ["grp", "events.platform"]}\') AS f'
\set c3 'SELECT pg_temp.compiled(\'{"measure": "quantile", "metric": "age", "q": 0.75, "group_by": ["grp"]}\') AS f'

SELECT is(count(*), 39143::bigint, 'the design has 39,143 users with a positive weight')
  FROM weighting_parallel.users WHERE weight > 0;

-- Serial.
SET LOCAL max_parallel_workers_per_gather = 0;
:q1 \gset s1_
:q2 \gset s2_
:q3 \gset s3_
:q4 \gset s4_
:q5 \gset s5_
:q6 \gset s6_
:q7 \gset s7_
:q8 \gset s8_
:c1 \gset sc1_
:c2 \gset sc2_
:c3 \gset sc3_
SELECT doesnt_match(pg_temp.plan_of(:'q2'), 'Gather', 'serial: no parallel plan');

-- Forced parallel.
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL min_parallel_index_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
DO $$ BEGIN
    PERFORM set_config(name, 'on', true) FROM pg_settings
     WHERE name IN ('debug_parallel_query', 'force_parallel_mode');
END $$;

SELECT matches(pg_temp.plan_of(:'q1'), 'Partial Aggregate', 'parallel: weighted_reach runs as partial aggregates');
SELECT matches(pg_temp.plan_of(:'q1'), 'Workers Launched: [1-9]', 'parallel: workers were launched');
SELECT matches(pg_temp.plan_of(:'q7'), 'Partial (Hash|Group)?Aggregate', 'parallel: grouped weighted_quantile runs as partial aggregates');
SELECT matches(pg_temp.plan_of(mcp.weighted_query_sql('{"measure": "reach_pct", "event_table": "weighting_parallel.events", "group_by": ["grp"]}', 'weighting_parallel.users', 'user_id', 'weight')),
               'Gather', 'parallel: the compiled plain SQL gets a parallel plan too');
:q1 \gset p1_
:q2 \gset p2_
:q3 \gset p3_
:q4 \gset p4_
:q5 \gset p5_
:q6 \gset p6_
:q7 \gset p7_
:q8 \gset p8_
SELECT ok(pg_temp.same(:'s1_f', :'p1_f'), 'parallel = serial: weighted_reach over event rows (a user''s events split between workers)');
SELECT ok(pg_temp.same(:'s2_f', :'p2_f'), 'parallel = serial: weighted_reach by group (300 groups)');
SELECT ok(pg_temp.same(:'s3_f', :'p3_f'), 'parallel = serial: weighted_reach_pct');
SELECT ok(pg_temp.same(:'s4_f', :'p4_f'), 'parallel = serial: weighted_mean by group (Chan merge)');
SELECT ok(pg_temp.same(:'s5_f', :'p5_f'), 'parallel = serial: weighted_share');
SELECT ok(pg_temp.same(:'s6_f', :'p6_f'), 'parallel = serial: weighted_total');
SELECT ok(pg_temp.same(:'s7_f', :'p7_f'), 'parallel = serial: weighted_quantile by group');
SELECT ok(pg_temp.same(:'s8_f', :'p8_f'), 'parallel = serial: kish_n_eff');
SELECT ok(pg_temp.same(:'sc1_f', pg_temp.compiled('{"measure": "reach_pct", "event_table": "weighting_parallel.events", "event_filter": "platform = ''ctv''", "group_by": ["grp"]}')),
          'parallel = serial: compiled reach_pct by group');
SELECT ok(pg_temp.same(:'sc2_f', pg_temp.compiled('{"measure": "mean", "metric": "sum(spend)", "event_table": "weighting_parallel.events", "group_by": ["grp", "events.platform"]}')),
          'parallel = serial: compiled mean of sum(spend) by group and platform');
SELECT ok(pg_temp.same(:'sc3_f', pg_temp.compiled('{"measure": "quantile", "metric": "age", "q": 0.75, "group_by": ["grp"]}')),
          'parallel = serial: compiled quantile by group');

-- And the C++ aggregates agree with the compiled plain SQL on the same 300 groups.
SELECT ok(pg_temp.same(
    (SELECT jsonb_agg(jsonb_build_object('value', (r ->> 'value')::float8, 'se', (r ->> 'se')::float8,
                                         'base', (r ->> 'base')::bigint, 'n_eff', (r ->> 'n_eff')::float8,
                                         'ci_low', (r ->> 'ci_low')::float8, 'ci_high', (r ->> 'ci_high')::float8)
                      ORDER BY (r ->> 'grp')::int)
       FROM jsonb_array_elements(:'sc1_f'::jsonb) r),
    (SELECT jsonb_agg(jsonb_build_object('value', t.value, 'se', t.se, 'base', t.base, 'n_eff', t.n_eff,
                                         'ci_low', t.ci_low, 'ci_high', t.ci_high) ORDER BY grp)
       FROM (SELECT u.grp, (mcp.weighted_reach_pct(u.user_id, u.weight, e.user_id IS NOT NULL, 39143)).*
               FROM weighting_parallel.users u
               LEFT JOIN weighting_parallel.events e ON e.user_id = u.user_id AND e.platform = 'ctv'
              WHERE u.weight > 0 GROUP BY u.grp) t)),
    'C++ aggregates = compiled plain SQL (reach_pct by group, within 1e-9)');

SELECT * FROM finish();
ROLLBACK;
