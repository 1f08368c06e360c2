-- weighted_query picks the plan shape per measure (reach: EXISTS semi-join; counts:
-- pre-aggregated events per user, collapsed by count before centring; event-column groups:
-- pre-aggregated (user, group) pairs). The shapes give the same figures as each other and as
-- the C++ aggregates, within 1e-9 relative, on the demo panel with filters, groups, mappings
-- and edge cases: users without events, NULL / zero / negative / NaN weights, groups nobody in
-- them reached, NULL group values on both tables.
\set scale 0.5
\ir ../fixtures/demo_dataset.sql
BEGIN;
SELECT plan(25);

-- Edge cases on top of the demo panel (rolled back with the test).
ALTER TABLE panelists ALTER COLUMN gender DROP NOT NULL, DROP CONSTRAINT panelists_gender_check,
                      ALTER COLUMN weight TYPE float8;
ALTER TABLE events ALTER COLUMN platform DROP NOT NULL, DROP CONSTRAINT events_platform_check,
                   DROP CONSTRAINT events_event_type_check;
INSERT INTO panelists (user_id, weight, age, gender, nccs, town_class, state, primary_platform, device_os)
SELECT 900000 + g, (ARRAY[NULL, 0, -1, 'NaN', 'Infinity', 2.5, 1.5, 0.75])[1 + g % 8]::float8,
       20 + g, CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN 'X' ELSE 'F' END,
       (ARRAY['A1', 'B2', 'E3'])[1 + g % 3], 'metro', 'Goa', 'mobile', 'android'
  FROM generate_series(1, 24) g;
-- Gender X: nobody ever made a 'rare' event; NULL platforms; users 900001-900024 have events
-- only when g is even, so some have none.
INSERT INTO events (event_id, user_id, platform, event_type, app, event_ts, duration_sec, spend_inr)
SELECT 9000000 + g * 10 + k, 900000 + g, CASE WHEN k = 1 THEN NULL ELSE 'ctv' END,
       CASE WHEN g % 3 = 2 AND k = 2 THEN 'rare' ELSE 'view' END, 'ZEE5', now(), 1, 0
  FROM generate_series(2, 24, 2) g, generate_series(1, 3) k;
ANALYZE panelists;
ANALYZE events;

CREATE FUNCTION pg_temp.close(a double precision, b double precision) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT (a IS NULL AND b IS NULL) OR abs(a - b) <= 1e-9 * greatest(abs(a), abs(b), 1e-300) $$;
-- Two row sets (jsonb arrays of objects) agree: same length, each number within 1e-9, rest equal.
CREATE FUNCTION pg_temp.same(a jsonb, b jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_array_length(a) = jsonb_array_length(b) AND jsonb_array_length(a) > 0 AND bool_and(
             CASE WHEN jsonb_typeof(x.value) = 'number'
                  THEN pg_temp.close((x.value)::text::float8, (y.value)::text::float8)
                  ELSE x.value = y.value END)
      FROM jsonb_array_elements(a) WITH ORDINALITY ra(r, i)
      JOIN jsonb_array_elements(b) WITH ORDINALITY rb(r, i) USING (i)
     CROSS JOIN LATERAL jsonb_each(ra.r) x
      JOIN LATERAL jsonb_each(rb.r) y ON y.key = x.key
$$;
CREATE FUNCTION pg_temp.sql(spec jsonb) RETURNS text LANGUAGE sql AS
$$ SELECT mcp.weighted_query_sql(spec, 'panelists', 'user_id', 'weight') $$;
CREATE FUNCTION pg_temp.answer(spec jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT mcp.weighted_query_local(spec, 'panelists', 'user_id', 'weight') $$;
-- The rows of an answer, the event_type group column dropped, in group order.
CREATE FUNCTION pg_temp.rows(spec jsonb, only_event_type text DEFAULT NULL) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(r - 'event_type' ORDER BY i), '[]')
      FROM jsonb_array_elements(pg_temp.answer(spec) -> 'rows') WITH ORDINALITY a(r, i)
     WHERE only_event_type IS NULL OR r ->> 'event_type' = only_event_type
$$;
SELECT count(*) FILTER (WHERE weight > 0 AND weight < 'Infinity') AS design_n FROM panelists \gset

-- The shapes, as the compiled statement shows them.
SELECT matches(pg_temp.sql('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''purchase''"}'),
               'FROM panelists AS u\s+WHERE EXISTS \(SELECT 1 FROM events AS e WHERE e\.user_id = u\.user_id.*\s+OFFSET 0\) AS u\s+WHERE greatest',
               'reach with an event_filter: the reached users are an EXISTS semi-join on the user table, before their weight is converted');
SELECT matches(pg_temp.sql('{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''view''", "user_filter": "age >= 25", "group_by": ["nccs"]}'),
               'WHERE \(\(age >= 25\)\) IS TRUE\s+AND EXISTS \(SELECT 1 FROM events',
               'reach_pct by a user column with filters: EXISTS semi-join too, the user filter first');
SELECT matches(pg_temp.sql('{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''view''", "group_by": ["nccs"]}'),
               '\(u\.nccs\)::text AS g1,.*SELECT CASE g1 WHEN ''A1'' THEN ''A''.* END AS g1, sum\(k\)',
               'reach by a merged column: users grouped by the column itself, the grades merged once per group');
SELECT matches(pg_temp.sql('{"measure": "reach", "event_table": "events"}'),
               'JOIN \(SELECT e\.user_id AS uid FROM events AS e GROUP BY 1\) AS m',
               'reach of any event: a pre-aggregated GROUP BY of the events'' user ids (parallel partial aggregate)');
SELECT matches(pg_temp.sql('{"measure": "avg_frequency", "event_table": "events", "event_filter": "event_type = ''view''"}'),
               'count\(\*\)::float8 AS n_events\s+FROM events AS e\s+WHERE \(\(event_type = ''view''\)\)\s+GROUP BY 1\M',
               'avg_frequency: events counted per user first, the filter pushed down');
SELECT matches(pg_temp.sql('{"measure": "projected_events", "event_table": "events", "group_by": ["gender", "events.platform"]}'),
               'e\.platform AS h1,\s+count\(\*\)::float8 AS n_events\s+FROM events AS e\s+GROUP BY 1, 2',
               'event-column groups: pre-aggregated (user, group) pairs');
SELECT is((SELECT count(*) FROM (VALUES
              ('{"measure": "reach", "event_table": "events"}'),
              ('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''view''", "group_by": ["gender"]}'),
              ('{"measure": "reach_pct", "event_table": "events", "group_by": ["events.app"]}'),
              ('{"measure": "avg_frequency", "event_table": "events"}'),
              ('{"measure": "projected_events", "event_table": "events", "group_by": ["events.platform"]}')) s(spec)
            WHERE pg_temp.sql(spec::jsonb) ~* '\mDISTINCT\M|FROM units WINDOW|OVER whole|(?<!NOT )MATERIALIZED \('),
          0::bigint, 'no DISTINCT over joined rows, no window over one row per user, no forced materialization');
SELECT is((SELECT count(*) FROM (VALUES ('reach'), ('reach_pct'), ('avg_frequency'), ('projected_events')) m(measure)
            WHERE pg_temp.sql(jsonb_build_object('measure', measure, 'event_table', 'events', 'group_by', '["nccs", "events.app"]'::jsonb)) ~ '\mmcp\.'),
          0::bigint, 'every shape stays plain SQL that calls nothing of mcp_analytics');

-- Forced parallel settings: the reach semi-join and the pre-aggregations run under a Gather.
SET LOCAL parallel_setup_cost = 0;
SET LOCAL parallel_tuple_cost = 0;
SET LOCAL min_parallel_table_scan_size = 0;
SET LOCAL max_parallel_workers_per_gather = 2;
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP plan := plan || line || E'\n'; END LOOP;
    RETURN plan;
END $$;
SELECT matches(pg_temp.plan_of(pg_temp.sql('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''purchase''", "group_by": ["gender"]}')),
               'Gather', 'the reach semi-join may run in parallel');
SELECT matches(pg_temp.plan_of(pg_temp.sql('{"measure": "projected_events", "event_table": "events", "group_by": ["events.platform"]}')),
               'Gather', 'the pre-aggregated (user, group) shape may run in parallel');
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- The same figures through two shapes: the reach semi-join (or pre-aggregated join) against the
-- event-group shape restricted to one event type.
SELECT ok(pg_temp.same(pg_temp.rows('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''purchase''"}'),
                       pg_temp.rows('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''purchase''", "group_by": ["events.event_type"]}', 'purchase')),
          'reach: semi-join = event-group shape');
SELECT ok(pg_temp.same(pg_temp.rows('{"measure": "reach", "event_table": "events"}'),
                       pg_temp.rows('{"measure": "reach", "event_table": "events", "event_filter": "true"}')),
          'reach of any event: pre-aggregated join = semi-join');
SELECT ok(pg_temp.same(pg_temp.rows('{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''view''", "group_by": ["gender", "nccs"], "user_filter": "age >= 20", "universe": "weight < 2"}'),
                       pg_temp.rows('{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''view''", "group_by": ["gender", "nccs", "events.event_type"], "user_filter": "age >= 20", "universe": "weight < 2"}', 'view')),
          'reach_pct by gender (with NULL) and mapped NCCS, user_filter and universe: semi-join = event-group shape');
SELECT ok(pg_temp.same((SELECT jsonb_agg(r) FROM jsonb_array_elements(
                            pg_temp.rows('{"measure": "projected_events", "event_table": "events", "event_filter": "event_type = ''click''", "group_by": ["gender"]}')) r
                         WHERE (r ->> 'value')::float8 > 0),
                       pg_temp.rows('{"measure": "projected_events", "event_table": "events", "event_filter": "event_type = ''click''", "group_by": ["gender", "events.event_type"]}', 'click')),
          'projected_events by gender: per-user counts = (user, group) counts');
SELECT ok(pg_temp.same((SELECT jsonb_agg(r) FROM jsonb_array_elements(
                            pg_temp.rows('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''rare''", "group_by": ["gender"]}')) r
                         WHERE (r ->> 'value')::float8 > 0),  -- the event-group shape has no rows for groups nobody reached
                       pg_temp.rows('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''rare''", "group_by": ["gender", "events.event_type"]}', 'rare')),
          'reach of a rare event: the semi-join and the event-group shape agree on the reached groups');

-- And the C++ aggregates, which count each user once through a hash set.
SELECT ok(pg_temp.same(
    (SELECT jsonb_agg(r - 'ci_low' - 'ci_high' - 'low_base' ORDER BY i) FROM jsonb_array_elements(
        pg_temp.answer('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''rare''", "group_by": ["gender"]}') -> 'rows') WITH ORDINALITY a(r, i)),
    (SELECT jsonb_agg(jsonb_build_object('gender', gender, 'value', (x).value, 'se', (x).se, 'base', (x).base, 'n_eff', (x).n_eff)
                      ORDER BY gender NULLS LAST)
       FROM (SELECT p.gender, mcp.weighted_reach(p.user_id, p.weight, e.user_id IS NOT NULL, :design_n) AS x
               FROM panelists p
               LEFT JOIN (SELECT DISTINCT user_id FROM events WHERE event_type = 'rare') e USING (user_id)
              WHERE p.weight > 0 AND p.weight < 'Infinity' GROUP BY p.gender) t)),
    'reach by gender = C++ weighted_reach, with a NULL gender and a gender nobody reached (value 0)');
SELECT is((SELECT (r ->> 'value')::float8 FROM jsonb_array_elements(pg_temp.answer('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''rare''", "group_by": ["gender"]}') -> 'rows') r
            WHERE r ->> 'gender' = 'X'), 0::float8, 'a group nobody reached has reach 0');
SELECT ok(pg_temp.same(
    (SELECT jsonb_agg(r - 'ci_low' - 'ci_high' - 'low_base' ORDER BY i) FROM jsonb_array_elements(
        pg_temp.answer('{"measure": "reach_pct", "event_table": "events", "event_filter": "platform IS NULL", "group_by": ["nccs"]}') -> 'rows') WITH ORDINALITY a(r, i)),
    (SELECT jsonb_agg(jsonb_build_object('nccs', nccs, 'value', (x).value, 'se', (x).se, 'base', (x).base, 'n_eff', (x).n_eff) ORDER BY nccs)
       FROM (SELECT mcp.map_dimension('nccs', p.nccs) AS nccs,
                    mcp.weighted_reach_pct(p.user_id, p.weight, e.user_id IS NOT NULL, :design_n) AS x
               FROM panelists p
               LEFT JOIN (SELECT DISTINCT user_id FROM events WHERE platform IS NULL) e USING (user_id)
              WHERE p.weight > 0 AND p.weight < 'Infinity' GROUP BY 1) t)),
    'reach_pct by mapped NCCS of a NULL-platform filter = C++ weighted_reach_pct');
SELECT ok(pg_temp.same(
    (SELECT jsonb_agg(r - 'ci_low' - 'ci_high' - 'low_base') FROM jsonb_array_elements(
        pg_temp.answer('{"measure": "avg_frequency", "event_table": "events", "event_filter": "event_type = ''view''"}') -> 'rows') r),
    (SELECT jsonb_agg(jsonb_build_object('value', (x).value, 'se', (x).se, 'base', (x).base, 'n_eff', (x).n_eff))
       FROM (SELECT mcp.weighted_mean(n::float8, p.weight, :design_n) AS x
               FROM panelists p JOIN (SELECT user_id, count(*) AS n FROM events WHERE event_type = 'view' GROUP BY 1) e USING (user_id)
              WHERE p.weight > 0 AND p.weight < 'Infinity') t)),
    'avg_frequency (counts collapsed before centring) = C++ weighted_mean of per-user counts');
SELECT ok(pg_temp.same(
    (SELECT jsonb_agg(r - 'ci_low' - 'ci_high' - 'low_base' ORDER BY i) FROM jsonb_array_elements(
        pg_temp.answer('{"measure": "projected_events", "event_table": "events", "event_filter": "event_type <> ''view''", "group_by": ["gender"]}') -> 'rows') WITH ORDINALITY a(r, i)),
    (SELECT jsonb_agg(jsonb_build_object('gender', gender, 'value', (x).value, 'se', (x).se, 'base', (x).base, 'n_eff', (x).n_eff)
                      ORDER BY gender NULLS LAST)
       FROM (SELECT p.gender, mcp.weighted_total(coalesce(n, 0)::float8, p.weight, :design_n) AS x
               FROM panelists p LEFT JOIN (SELECT user_id, count(*) AS n FROM events WHERE event_type <> 'view' GROUP BY 1) e USING (user_id)
              WHERE p.weight > 0 AND p.weight < 'Infinity' GROUP BY p.gender) t)),
    'projected_events by gender (users without events count 0) = C++ weighted_total');

-- Edge cases of the answer itself.
SELECT is(pg_temp.answer('{"measure": "reach", "event_table": "events"}') -> 'warnings' ->> 0,
          (SELECT count(*) FROM panelists WHERE NOT (weight > 0 AND weight < 'Infinity') OR weight IS NULL) ||
          ' users without a positive weight (NULL, zero or negative) left out of every figure.',
          'NULL, zero, negative, NaN and infinite weights are left out and counted in the warning (design from the universe)');
SELECT is(pg_temp.answer('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''view''", "user_filter": "age > 25"}') -> 'warnings' ->> 0,
          (SELECT count(*) FROM panelists WHERE NOT (weight > 0 AND weight < 'Infinity') OR weight IS NULL) ||
          ' users without a positive weight (NULL, zero or negative) left out of every figure.',
          'the same count with a user_filter (design read from the user table)');
SELECT is((pg_temp.rows('{"measure": "reach", "event_table": "events", "event_filter": "event_type = ''none such''"}') -> 0 ->> 'value')::float8,
          0::float8, 'nobody reached: reach 0');
SELECT is(pg_temp.rows('{"measure": "reach_pct", "event_table": "events", "event_filter": "true", "user_filter": "user_id IN (900006, 900014, 900022)"}'),
          pg_temp.rows('{"measure": "reach_pct", "event_table": "events", "event_filter": "true", "user_filter": "user_id IN (900006, 900014, 900022)", "group_by": ["events.event_type"]}', 'view'),
          'everyone reached: p = 1 and SE = 0 exactly in both shapes');
SELECT is(pg_temp.rows('{"measure": "reach", "event_table": "events", "user_filter": "false"}'),
          '[{"se": null, "base": 0, "n_eff": null, "value": null, "ci_low": null, "ci_high": null, "low_base": true}]'::jsonb,
          'an empty universe: one row without figures, as before');

SELECT * FROM finish();
ROLLBACK;
DROP TABLE daily_app_usage, events, panelists;
