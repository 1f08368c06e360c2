-- Weighted panel analytics: the reference's worked example reproduced to 6 decimals, row by
-- row, by the C++ aggregates and by the plain SQL that weighted_query compiles; users without
-- a positive weight left out and counted; the settings (min_base, mappings); bad specs refused
-- with the field named; hostile expressions refused by the guard.
BEGIN;
SELECT plan(82);

CREATE SCHEMA weighting_example;
CREATE TABLE weighting_example.panelists (user_id int PRIMARY KEY, weight numeric, gender text, nccs text, age int);
INSERT INTO weighting_example.panelists VALUES
 (1, 1.5, 'F', 'A1', 24), (2, 0.5, 'M', 'A3', 35), (3, 2.0, 'F', 'B1', 41),
 (4, 1.0, 'M', 'B2', 19), (5, 3.0, 'F', 'C1', 52), (6, 0.8, 'M', 'C2', 28),
 (7, 1.2, 'F', 'D1', 33), (8, 2.5, 'M', 'E2', 46), (9, 0.7, 'F', 'A2', 17),
 (10, 1.8, 'M', 'E3', 61), (11, NULL, 'F', 'B1', 30), (12, 0.0, 'M', 'C1', 22);
CREATE TABLE weighting_example.events (user_id int REFERENCES weighting_example.panelists, platform text, event_type text, spend numeric);
INSERT INTO weighting_example.events VALUES
 (1,'mobile','view',0), (1,'mobile','view',0), (1,'ctv','view',0), (1,'mobile','purchase',120),
 (2,'mobile','view',0),
 (3,'ctv','view',0), (3,'ctv','view',0), (3,'ctv','purchase',300), (3,'mobile','purchase',80),
 (4,'mobile','view',0), (4,'mobile','view',0), (4,'mobile','view',0), (4,'mobile','view',0),
 (4,'mobile','view',0),
 (5,'ctv','view',0),
 (6,'mobile','purchase',40), (6,'mobile','purchase',60),
 (7,'ctv','view',0), (7,'mobile','view',0),
 (8,'mobile','view',0), (8,'mobile','purchase',500),
 (9,'mobile','view',0), (9,'mobile','view',0),
 (10,'ctv','view',0),
 (11,'mobile','view',0), (11,'mobile','purchase',90),
 (12,'mobile','view',0), (12,'ctv','view',0), (12,'mobile','purchase',10), (12,'mobile','purchase',20);

-- One line per figure set, 6 decimals, as the reference's table prints them.
CREATE FUNCTION pg_temp.f6(x double precision) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(round(x::numeric, 6)::text, '') $$;
CREATE FUNCTION pg_temp.figures(e mcp.weighted_estimate) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT concat_ws('|', pg_temp.f6(e.value), pg_temp.f6(e.se), e.base, pg_temp.f6(e.n_eff),
                   pg_temp.f6(e.ci_low), pg_temp.f6(e.ci_high), e.low_base::text) $$;
CREATE FUNCTION pg_temp.figures(r jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT concat_ws('|', pg_temp.f6((r ->> 'value')::float8), pg_temp.f6((r ->> 'se')::float8),
                   r ->> 'base', pg_temp.f6((r ->> 'n_eff')::float8), pg_temp.f6((r ->> 'ci_low')::float8),
                   pg_temp.f6((r ->> 'ci_high')::float8), r ->> 'low_base') $$;
-- The compiled plain SQL, run on this database's example tables.
CREATE FUNCTION pg_temp.answer(spec jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT mcp.weighted_query_local(spec, 'weighting_example.panelists', 'user_id', 'weight') $$;
CREATE FUNCTION pg_temp.row_of(spec jsonb, key text DEFAULT NULL, val text DEFAULT NULL) RETURNS text LANGUAGE sql AS
$$ SELECT pg_temp.figures(r) FROM jsonb_array_elements(pg_temp.answer(spec) -> 'rows') r
    WHERE key IS NULL OR r ->> key = val $$;
-- The design size n (users with a positive weight in the whole table) for domain aggregates.
CREATE FUNCTION pg_temp.n() RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM weighting_example.panelists WHERE weight > 0 $$;
-- Per-user purchase rows: reached, number of purchases, their spend.
CREATE VIEW pg_temp.purchases AS
SELECT p.user_id, p.weight::float8 AS w, p.gender, p.nccs, p.age,
       count(e.user_id) > 0 AS reached, count(e.user_id)::float8 AS n, coalesce(sum(e.spend), 0)::float8 AS spend
  FROM weighting_example.panelists p
  LEFT JOIN weighting_example.events e ON e.user_id = p.user_id AND e.event_type = 'purchase'
 GROUP BY p.user_id;

------------------------------------------------------------------------------------------
-- The worked example with the C++ aggregates (16 rows)
------------------------------------------------------------------------------------------
SELECT is(pg_temp.figures(mcp.weighted_reach(p.user_id, p.weight::float8, e.user_id IS NOT NULL)),
          '6.800000|2.807885|10|7.878151|1.701409|12.459738|true',
          'aggregate: reach of purchasers, each user once however many purchases')
  FROM weighting_example.panelists p
  LEFT JOIN weighting_example.events e ON e.user_id = p.user_id AND e.event_type = 'purchase';
SELECT is(pg_temp.figures(mcp.weighted_reach_pct(p.user_id, p.weight::float8, e.user_id IS NOT NULL)),
          '0.453333|0.187192|10|7.878151|0.113427|0.830649|true', 'aggregate: reach_pct of purchasers')
  FROM weighting_example.panelists p
  LEFT JOIN weighting_example.events e ON e.user_id = p.user_id AND e.event_type = 'purchase';
SELECT is(pg_temp.figures(mcp.weighted_reach_pct(p.user_id, p.weight::float8, e.user_id IS NOT NULL, pg_temp.n())),
          expected, 'aggregate: reach_pct of purchasers, gender ' || p.gender || ' (a domain: n of the whole design)')
  FROM weighting_example.panelists p
  LEFT JOIN weighting_example.events e ON e.user_id = p.user_id AND e.event_type = 'purchase'
  JOIN (VALUES ('F', '0.416667|0.251736|5|4.107101|0.036451|0.903580|true'),
               ('M', '0.500000|0.269387|5|3.827768|0.051664|0.948336|true')) x(gender, expected) USING (gender)
 GROUP BY p.gender, expected ORDER BY p.gender;
SELECT is(pg_temp.figures(mcp.weighted_reach_pct(p.user_id, p.weight::float8, e.user_id IS NOT NULL, pg_temp.n())),
          expected, 'aggregate: reach_pct of purchasers, NCCS ' || grade || ' (mapped with map_dimension)')
  FROM weighting_example.panelists p
  LEFT JOIN weighting_example.events e ON e.user_id = p.user_id AND e.event_type = 'purchase'
  JOIN (VALUES ('A', '0.555556|0.320236|3|2.438127|0.033055|0.986046|true'),
               ('B', '0.666667|0.331269|2|1.800000|0.039922|0.998441|true'),
               ('C/D/E', '0.354839|0.242838|5|4.204667|0.022116|0.872104|true')) x(grade, expected)
    ON x.grade = mcp.map_dimension('nccs', p.nccs)
 GROUP BY grade, expected ORDER BY grade;
SELECT is(pg_temp.figures(mcp.weighted_reach(p.user_id, p.weight::float8, e.user_id IS NOT NULL, pg_temp.n())),
          expected, 'aggregate: reach on ' || x.platform || ' (an event dimension: the universe stays the denominator)')
  FROM (VALUES ('mobile', '10.200000|2.854031|10|7.878151|3.491735|14.417752|true'),
               ('ctv', '9.500000|2.612165|10|7.878151|3.653055|13.844361|true')) x(platform, expected)
 CROSS JOIN weighting_example.panelists p
  LEFT JOIN weighting_example.events e ON e.user_id = p.user_id AND e.platform = x.platform
 GROUP BY x.platform, expected ORDER BY x.platform DESC;
SELECT is(pg_temp.figures(mcp.weighted_reach(p.user_id, p.weight::float8, e.user_id IS NOT NULL, pg_temp.n())),
          '14.300000|0.000000|9|7.285002|9.491380|14.300000|true',
          'aggregate: reach of adults, p = 1 and SE = 0, so n* = base (NCHS)')
  FROM weighting_example.panelists p LEFT JOIN weighting_example.events e ON e.user_id = p.user_id
 WHERE p.age >= 18;
SELECT is(pg_temp.figures(mcp.weighted_share(age >= 30, weight::float8)),
          '0.733333|0.141856|10|7.878151|0.372852|0.950572|true', 'aggregate: share aged 30 or more')
  FROM weighting_example.panelists;
SELECT is(pg_temp.figures(mcp.weighted_mean(n, w, pg_temp.n())),
          '1.411765|0.270574|4|3.519026|0.881450|1.942079|true', 'aggregate: avg_frequency of purchase')
  FROM pg_temp.purchases WHERE reached;
SELECT is(pg_temp.figures(mcp.weighted_mean(spend, w, pg_temp.n())),
          '333.823529|87.549427|4|3.519026|162.229805|505.417253|true', 'aggregate: mean spend of purchasers')
  FROM pg_temp.purchases WHERE reached;
SELECT is(pg_temp.figures(mcp.weighted_mean(age, weight::float8)),
          '40.613333|4.581217|10|7.878151|31.634314|49.592353|true', 'aggregate: mean age')
  FROM weighting_example.panelists;
SELECT is(pg_temp.figures(mcp.weighted_total(n, w)),
          '9.600000|4.216341|10|7.878151|1.336124|17.863876|true', 'aggregate: projected purchases (weighted_total)')
  FROM pg_temp.purchases;
SELECT is(pg_temp.figures(mcp.weighted_quantile(age, weight::float8, 0.5)),
          '41.000000||10|7.878151|||true', 'aggregate: weighted median age')
  FROM weighting_example.panelists;

------------------------------------------------------------------------------------------
-- The worked example through the compiled plain SQL (16 rows)
------------------------------------------------------------------------------------------
SELECT is(pg_temp.row_of('{"measure": "reach", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''"}'),
          '6.800000|2.807885|10|7.878151|1.701409|12.459738|true', 'compiled: reach of purchasers');
SELECT is(pg_temp.row_of('{"measure": "reach_pct", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''"}'),
          '0.453333|0.187192|10|7.878151|0.113427|0.830649|true', 'compiled: reach_pct of purchasers');
SELECT is(pg_temp.row_of('{"measure": "reach_pct", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''", "group_by": ["gender"]}', 'gender', 'F'),
          '0.416667|0.251736|5|4.107101|0.036451|0.903580|true', 'compiled: reach_pct of purchasers, gender F');
SELECT is(pg_temp.row_of('{"measure": "reach_pct", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''", "group_by": ["gender"]}', 'gender', 'M'),
          '0.500000|0.269387|5|3.827768|0.051664|0.948336|true', 'compiled: reach_pct of purchasers, gender M');
SELECT is(pg_temp.row_of('{"measure": "reach_pct", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''", "group_by": ["nccs"]}', 'nccs', grade),
          expected, 'compiled: reach_pct of purchasers, NCCS ' || grade || ' (merged by the mappings.nccs setting)')
  FROM (VALUES ('A', '0.555556|0.320236|3|2.438127|0.033055|0.986046|true'),
               ('B', '0.666667|0.331269|2|1.800000|0.039922|0.998441|true'),
               ('C/D/E', '0.354839|0.242838|5|4.204667|0.022116|0.872104|true')) x(grade, expected) ORDER BY grade;
SELECT is(pg_temp.row_of('{"measure": "reach", "event_table": "weighting_example.events", "group_by": ["events.platform"]}', 'platform', platform),
          expected, 'compiled: reach on ' || platform || ' (event-table column)')
  FROM (VALUES ('mobile', '10.200000|2.854031|10|7.878151|3.491735|14.417752|true'),
               ('ctv', '9.500000|2.612165|10|7.878151|3.653055|13.844361|true')) x(platform, expected) ORDER BY platform DESC;
SELECT is(pg_temp.row_of('{"measure": "reach", "event_table": "weighting_example.events", "user_filter": "age >= 18"}'),
          '14.300000|0.000000|9|7.285002|9.491380|14.300000|true', 'compiled: reach of adults (p = 1, SE = 0)');
SELECT is(pg_temp.row_of('{"measure": "share", "condition": "age >= 30"}'),
          '0.733333|0.141856|10|7.878151|0.372852|0.950572|true', 'compiled: share aged 30 or more');
SELECT is(pg_temp.row_of('{"measure": "avg_frequency", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''"}'),
          '1.411765|0.270574|4|3.519026|0.881450|1.942079|true', 'compiled: avg_frequency of purchase');
SELECT is(pg_temp.row_of('{"measure": "mean", "metric": "sum(spend)", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''"}'),
          '333.823529|87.549427|4|3.519026|162.229805|505.417253|true', 'compiled: mean of sum(spend) over purchasers');
SELECT is(pg_temp.row_of('{"measure": "mean", "metric": "age"}'),
          '40.613333|4.581217|10|7.878151|31.634314|49.592353|true', 'compiled: mean age (no event table)');
SELECT is(pg_temp.row_of('{"measure": "projected_events", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''"}'),
          '9.600000|4.216341|10|7.878151|1.336124|17.863876|true', 'compiled: projected purchases');
SELECT is(pg_temp.row_of('{"measure": "quantile", "metric": "age", "q": 0.5}'),
          '41.000000||10|7.878151|||true', 'compiled: weighted median age');

------------------------------------------------------------------------------------------
-- Users without a positive weight; the answer's shape; plain SQL
------------------------------------------------------------------------------------------
SELECT is((mcp.weighted_mean(age, weight::float8)).excluded, 2::bigint,
          'aggregates count the rows left out for a NULL or zero weight')
  FROM weighting_example.panelists;
SELECT is((mcp.weighted_reach(e.user_id, p.weight::float8)).excluded, 2::bigint,
          'weighted_reach counts users (not rows) left out: users 11 and 12 have 6 events')
  FROM weighting_example.events e JOIN weighting_example.panelists p USING (user_id);
SELECT is((mcp.weighted_reach(e.user_id, p.weight::float8)).value, 15.0::float8,
          'weighted_reach over event rows: each user''s weight once (the contrast, summing over events, is 31.4)')
  FROM weighting_example.events e JOIN weighting_example.panelists p USING (user_id);
SELECT ok(pg_temp.answer('{"measure": "reach", "event_table": "weighting_example.events"}') -> 'warnings'
          ? '2 users without a positive weight (NULL, zero or negative) left out of every figure.',
          'weighted_query warns that 2 users without a positive weight were left out');
SELECT ok(pg_temp.answer('{"measure": "mean", "metric": "age"}') ?& ARRAY['measure', 'rows', 'sql', 'warnings'],
          'the answer carries measure, rows, sql and warnings');
SELECT ok(mcp.weighted_query_sql('{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''purchase''", "group_by": ["nccs", "events.platform"]}',
                                 'panelists', 'user_id', 'weight') !~ '\mmcp\.',
          'the compiled SQL calls nothing of mcp_analytics (it runs where the extension is not installed)');
SELECT is(kish, 7.878151, 'kish_n_eff of the example: 7.878151')
  FROM (SELECT round(mcp.kish_n_eff(weight::float8)::numeric, 6) AS kish FROM weighting_example.panelists) k;

-- The compiled statement's own rows: proportions leave their interval to the finisher, which
-- is mcp.proportion_interval (Korn-Graubard) on the statement's p, se and base.
CREATE FUNCTION pg_temp.plain_rows(spec jsonb) RETURNS SETOF jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'SELECT to_jsonb(t) FROM (' ||
        mcp.weighted_query_sql(spec, 'weighting_example.panelists', 'user_id', 'weight') || ') t';
END $$;
SELECT is(pg_temp.f6((r ->> 'value')::float8) || '|' || pg_temp.f6((r ->> 'se')::float8),
          '0.453333|0.187192', 'the plain statement itself yields reach_pct and its SE')
  FROM pg_temp.plain_rows('{"measure": "reach_pct", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''"}') r;
SELECT is(pg_temp.f6(i.ci_low) || '|' || pg_temp.f6(i.ci_high), '0.039922|0.998441',
          'mcp.proportion_interval on the statement''s p, se and base gives the capped NCCS B interval')
  FROM pg_temp.plain_rows('{"measure": "reach_pct", "event_table": "weighting_example.events", "event_filter": "event_type = ''purchase''", "group_by": ["nccs"]}') r,
       mcp.proportion_interval((r ->> 'value')::float8, (r ->> 'se')::float8, (r ->> 'base')::bigint) i
 WHERE r ->> 'nccs' = 'B';

------------------------------------------------------------------------------------------
-- Settings: min_base, mappings
------------------------------------------------------------------------------------------
SELECT is(current_setting('mcp_analytics.min_base'), '50', 'mcp_analytics.min_base defaults to 50');
SET LOCAL mcp_analytics.min_base = 5;
SELECT is((mcp.weighted_mean(age, weight::float8)).low_base, false, 'low_base follows mcp_analytics.min_base (aggregates)')
  FROM weighting_example.panelists;
SELECT is(pg_temp.row_of('{"measure": "reach_pct", "event_table": "weighting_example.events", "group_by": ["gender"]}', 'gender', 'F'),
          '1.000000|0.000000|5|4.107101|0.478176|1.000000|false', 'low_base follows mcp_analytics.min_base (compiled): base 5 is not under 5');
RESET mcp_analytics.min_base;
SELECT is(mcp.map_dimension('nccs', 'A2'), 'A', 'map_dimension merges A2 into A');
SELECT is(mcp.map_dimension('nccs', 'Z9'), 'Z9', 'map_dimension keeps values the mapping does not list');
SELECT throws_like($$SELECT mcp.map_dimension('no_such_mapping', 'x')$$, 'unknown dimension mapping%',
                   'an unknown mapping is an error');
SELECT is(pg_temp.row_of('{"measure": "mean", "metric": "age", "group_by": [{"column": "nccs", "mapping": null}]}', 'nccs', 'A1'),
          '24.000000|0.000000|1|1.000000|24.000000|24.000000|true', 'group_by {"mapping": null} keeps the raw grades');
SELECT is(pg_temp.row_of('{"measure": "mean", "metric": "age", "group_by": [{"column": "nccs", "as": "grade"}]}', 'grade', 'B'),
          '33.666667|7.287925|2|1.800000|19.382596|47.950738|true', 'group_by {"as": ...} renames the output column (the mapping still applies)');

------------------------------------------------------------------------------------------
-- Aggregates refuse inconsistent input
------------------------------------------------------------------------------------------
SELECT throws_like($$SELECT mcp.weighted_reach(u, w) FROM (VALUES (1, 1.0::float8), (1, 2.0)) v(u, w)$$,
                   'user 1 has two different weights', 'a user with two weights is refused (weights belong to users)');
SELECT throws_like($$SELECT mcp.weighted_mean(x, 1, n) FROM (VALUES (1.0::float8, 10), (2.0, 11)) v(x, n)$$,
                   '%design_n changed between rows', 'design_n must be constant');
SELECT throws_like($$SELECT mcp.weighted_quantile(x, 1, 1.5) FROM (VALUES (1.0::float8)) v(x)$$,
                   '%q must be between 0 and 1', 'q outside [0, 1] is refused');

------------------------------------------------------------------------------------------
-- Bad specs: the error names the field and the allowed values
------------------------------------------------------------------------------------------
CREATE FUNCTION pg_temp.compile(spec text) RETURNS text LANGUAGE sql AS
$$ SELECT mcp.weighted_query_sql(spec::jsonb, 'panelists', 'user_id', 'weight') $$;
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "revenue"}')$$,
                   'weighted_query: "measure" must be one of reach, reach_pct, avg_frequency, mean, share, projected_events, quantile',
                   'an unknown measure: the allowed ones are listed');
SELECT throws_like($$SELECT pg_temp.compile('{"metric": "age"}')$$, 'weighted_query: "measure" is missing', 'a missing measure');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": 5}')$$, 'weighted_query: "measure" must be a string', 'a measure of the wrong type');
SELECT throws_like($$SELECT pg_temp.compile('[1, 2]')$$, 'weighted_query: "spec" must be a JSON object', 'a spec that is not an object');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "reach"}')$$,
                   'weighted_query: "event_table" is required for measure reach', 'reach without an event table');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean"}')$$,
                   'weighted_query: "metric" is required for measure mean', 'mean without a metric');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "share", "condition": "age > 3", "metric": "age"}')$$,
                   'weighted_query: "metric" does not apply to measure share', 'a field the measure does not use');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "quantile", "metric": "age", "q": 2}')$$,
                   'weighted_query: "q" must be a number between 0 and 1', 'q out of range');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "quantile", "metric": "age", "q": "half"}')$$,
                   'weighted_query: "q" must be a number between 0 and 1', 'q of the wrong type');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "filter": "age > 1"}')$$,
                   'weighted_query: "filter" is not a field of a weighted_query spec', 'an unknown field');
SELECT ok(pg_temp.compile('{"measure": "mean", "metric": "age", "group_by": "gender; drop"}') ~ 'u\."gender; drop" AS g1',
          'a group_by column name is quoted as an identifier, whatever it holds');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "group_by": ["gender\" AS x, \"age"]}')$$,
                   'weighted_query: "group_by[0]" is not a valid name', 'a group_by name with a double quote is refused');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "group_by": [5]}')$$,
                   'weighted_query: "group_by[0]" must be a column name or an object%', 'a group_by entry of the wrong type');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "group_by": ["sales.region"]}')$$,
                   'weighted_query: "group_by[0]" names an unknown table "sales"', 'a group_by column of an unknown table');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "group_by": [{"column": "nccs", "mapping": "zodiac"}]}')$$,
                   'weighted_query: "group_by[0].mapping" names an unknown mapping "zodiac"', 'an unknown mapping');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "group_by": ["age", {"column": "gender", "as": "age"}]}')$$,
                   'weighted_query: "group_by" gives two output columns the name "age"%', 'two group columns with one name');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "sum(spend)"}')$$,
                   'weighted_query: "metric" aggregates events but the spec has no event_table', 'an aggregated metric needs events');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "user_filter": "sum(age) > 3"}')$$,
                   'weighted_query: "user_filter" must be a condition on one row%', 'an aggregate in a filter');
SELECT throws_like($$SELECT mcp.weighted_query_sql('{"measure": "mean", "metric": "age"}')$$,
                   'weighted_query: "user_table" is not known', 'no user table registered nor given');
SELECT throws_like($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "user_table": "a.b.c"}')$$,
                   'weighted_query: "user_table" is not a valid name', 'a malformed table name');

-- Hostile SQL in expressions is refused by the query guard before anything runs.
SELECT throws_ok($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "user_filter": "age > 1; DROP TABLE panelists"}')$$,
                 '42601', NULL, 'a second statement in a filter is refused (42601)');
SELECT throws_ok($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age", "user_filter": "pg_sleep(10) IS NULL"}')$$,
                 '42501', NULL, 'a denied function in a filter is refused (42501)');
SELECT throws_ok($$SELECT pg_temp.compile('{"measure": "share", "condition": "user_id IN (SELECT usesysid FROM pg_user)"}')$$,
                 NULL, NULL, 'a sub-query in a condition is refused');
SELECT throws_ok($$SELECT pg_temp.compile('{"measure": "mean", "metric": "age) FROM pg_authid --"}')$$,
                 NULL, NULL, 'a metric that closes the expression early is refused');
SELECT throws_ok($$SELECT pg_temp.compile('{"measure": "reach", "event_table": "events", "event_filter": "1 = 1)) UNION SELECT 1 --"}')$$,
                 NULL, NULL, 'an event_filter that tries to break out of its parentheses is refused');
SELECT ok(pg_temp.row_of('{"measure": "mean", "metric": "age", "user_filter": "age > 60) OR (true"}') IS NOT NULL,
          'a filter whose parentheses balance differently stays one expression: it only filters users');
SELECT is(pg_temp.row_of('{"measure": "mean", "metric": "age", "user_filter": "age > 60) OR (age > 50"}'),
          '55.375000|3.144471|2|1.882353|49.211951|61.538049|true',
          'such a filter keeps its own meaning (age > 60 OR age > 50), not the surrounding AND''s');

SELECT is(pg_temp.row_of('{"measure": "mean", "metric": "age", "user_filter": "age > 50 -- the over-50s"}'),
          '55.375000|3.144471|2|1.882353|49.211951|61.538049|true',
          'a trailing -- comment in an expression ends with it and comments out nothing else');

-- Privileges: readers use the aggregates and the compiler; running specs locally is for admins.
SET LOCAL ROLE mcp_reader;
SELECT is((SELECT (mcp.weighted_mean(x, w)).value FROM (VALUES (1.0::float8, 1.0::float8), (3.0, 3.0)) v(x, w)),
          2.5::float8, 'mcp_reader may use the aggregates');
SELECT throws_ok($$SELECT mcp.weighted_query_local('{"measure": "mean", "metric": "1"}', 'pg_class', 'oid', 'relpages')$$,
                 '42501', NULL, 'mcp_reader may not run specs on the metadata database');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
