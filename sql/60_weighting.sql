-- Weighted panel analytics as a user sees it: the worked example of the reference
-- (shared/reference/weighting.md) through the aggregates and through weighted_query, and the
-- plain SQL a spec compiles to.
CREATE SCHEMA weighting_demo;
CREATE TABLE weighting_demo.panelists (user_id int PRIMARY KEY, weight numeric, gender text, nccs text, age int);
INSERT INTO weighting_demo.panelists VALUES
 (1, 1.5, 'F', 'A1', 24), (2, 0.5, 'M', 'A3', 35), (3, 2.0, 'F', 'B1', 41),
 (4, 1.0, 'M', 'B2', 19), (5, 3.0, 'F', 'C1', 52), (6, 0.8, 'M', 'C2', 28),
 (7, 1.2, 'F', 'D1', 33), (8, 2.5, 'M', 'E2', 46), (9, 0.7, 'F', 'A2', 17),
 (10, 1.8, 'M', 'E3', 61), (11, NULL, 'F', 'B1', 30), (12, 0.0, 'M', 'C1', 22);
CREATE TABLE weighting_demo.events (user_id int, platform text, event_type text, spend numeric);
INSERT INTO weighting_demo.events VALUES
 (1,'mobile','view',0), (1,'mobile','view',0), (1,'ctv','view',0), (1,'mobile','purchase',120),
 (2,'mobile','view',0), (3,'ctv','view',0), (3,'ctv','view',0), (3,'ctv','purchase',300),
 (3,'mobile','purchase',80), (4,'mobile','view',0), (4,'mobile','view',0), (4,'mobile','view',0),
 (4,'mobile','view',0), (4,'mobile','view',0), (5,'ctv','view',0), (6,'mobile','purchase',40),
 (6,'mobile','purchase',60), (7,'ctv','view',0), (7,'mobile','view',0), (8,'mobile','view',0),
 (8,'mobile','purchase',500), (9,'mobile','view',0), (9,'mobile','view',0), (10,'ctv','view',0),
 (11,'mobile','view',0), (11,'mobile','purchase',90), (12,'mobile','view',0), (12,'ctv','view',0),
 (12,'mobile','purchase',10), (12,'mobile','purchase',20);

-- Reach of purchasers by gender: each user once, users 11 and 12 left out (no positive weight).
SELECT p.gender, round((r).value::numeric, 6) AS reach, round((r).se::numeric, 6) AS se, (r).base,
       round((r).n_eff::numeric, 6) AS n_eff, round((r).ci_low::numeric, 6) AS ci_low,
       round((r).ci_high::numeric, 6) AS ci_high, (r).low_base, (r).excluded
  FROM (SELECT p.gender, mcp.weighted_reach(p.user_id, p.weight::float8, e.user_id IS NOT NULL,
                                             (SELECT count(*) FROM weighting_demo.panelists WHERE weight > 0)) AS r
          FROM weighting_demo.panelists p
          LEFT JOIN weighting_demo.events e ON e.user_id = p.user_id AND e.event_type = 'purchase'
         GROUP BY p.gender) p
 ORDER BY 1;

-- The weighted mean age against the unweighted one (35.6), and the median.
SELECT round((mcp.weighted_mean(age, weight::float8)).value::numeric, 6) AS weighted_mean_age,
       round(avg(age) FILTER (WHERE weight > 0), 6) AS unweighted_mean_age,
       (mcp.weighted_quantile(age, weight::float8, 0.5)).value AS weighted_median_age,
       round(mcp.kish_n_eff(weight::float8)::numeric, 6) AS n_eff
  FROM weighting_demo.panelists;

-- The same reach through weighted_query on this database's tables: rows, warnings.
SELECT r ->> 'gender' AS gender, round((r ->> 'value')::numeric, 6) AS reach,
       round((r ->> 'ci_low')::numeric, 6) AS ci_low, round((r ->> 'ci_high')::numeric, 6) AS ci_high
  FROM jsonb_array_elements(mcp.weighted_query_local(
         '{"measure": "reach", "event_table": "weighting_demo.events", "event_filter": "event_type = ''purchase''", "group_by": ["gender"]}',
         'weighting_demo.panelists', 'user_id', 'weight') -> 'rows') r;
SELECT jsonb_array_elements_text(mcp.weighted_query_local(
         '{"measure": "reach_pct", "event_table": "weighting_demo.events", "group_by": ["nccs", "events.platform"]}',
         'weighting_demo.panelists', 'user_id', 'weight') -> 'warnings') AS warning;

-- The plain SQL behind it: it runs on any PostgreSQL, without mcp_analytics.
SELECT regexp_split_to_table(mcp.weighted_query_sql(
         '{"measure": "reach_pct", "event_table": "events", "event_filter": "event_type = ''purchase''", "group_by": ["nccs"]}',
         'panelists', 'user_id', 'weight'), E'\n') AS compiled_sql;

-- A bad spec names the field and the allowed values.
SELECT mcp.weighted_query_sql('{"measure": "reach_percent", "event_table": "events"}', 'panelists', 'user_id', 'weight');

DROP SCHEMA weighting_demo CASCADE;
