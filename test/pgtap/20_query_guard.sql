-- The query guard: every hostile statement is rejected before it reaches the dataset, or is
-- contained there by the read-only transaction and the statement timeout; the dataset is
-- unchanged afterwards; legitimate queries that merely mention scary words still run.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(99);

SELECT mcp.register_dataset('guard_demo', :'demo_conninfo') AS id \gset
SELECT count(mcp.set_dataset_status(:id, s)) AS moved FROM unnest(ARRAY['profiling', 'metadata_pending', 'approved']) AS s \gset

-- The dataset's state, to compare at the end.
CREATE FUNCTION pg_temp.dataset_fingerprint(dataset integer) RETURNS text LANGUAGE sql AS $$
    SELECT mcp.execute_query(dataset, $q$
        SELECT md5(string_agg(t, '|' ORDER BY t)) FROM (
            SELECT 'p' || count(*) || ':' || sum(weight) AS t FROM panelists
            UNION ALL SELECT 'e' || count(*) || ':' || sum(spend_inr) || ':' || max(event_id) FROM events
            UNION ALL SELECT 'd' || count(*) || ':' || sum(events) FROM daily_app_usage
            UNION ALL SELECT 'w' || count(*) FROM trap.writes
            UNION ALL SELECT 'c' || count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace) s
        $q$, 10, 'csv') ->> 'text' $$;
SELECT pg_temp.dataset_fingerprint(:id) AS fingerprint_before \gset

-- Each hostile statement with the SQLSTATE it must be rejected with.
CREATE TEMP TABLE hostile (sql text, sqlstate text, what text);
INSERT INTO hostile VALUES
 ('DELETE FROM panelists', '42501', 'DELETE'),
 ('UPDATE panelists SET weight = 0', '42501', 'UPDATE'),
 ('INSERT INTO panelists (user_id) VALUES (999999)', '42501', 'INSERT'),
 ('MERGE INTO panelists p USING events e ON p.user_id = e.user_id WHEN MATCHED THEN DELETE', '42501', 'MERGE'),
 ('DROP TABLE panelists', '42501', 'DROP TABLE'),
 ('TRUNCATE events', '42501', 'TRUNCATE'),
 ('CREATE TABLE stolen AS SELECT * FROM panelists', '42501', 'CREATE TABLE AS'),
 ('ALTER TABLE panelists ADD COLUMN x int', '42501', 'ALTER TABLE'),
 ('GRANT ALL ON panelists TO PUBLIC', '42501', 'GRANT'),
 ('VACUUM panelists', '42501', 'VACUUM'),
 ('LOCK TABLE panelists', '42501', 'LOCK'),
 ('SELECT 1; DELETE FROM panelists', '42601', 'a second statement'),
 ('SELECT 1; SELECT 2', '42601', 'two SELECTs'),
 ('select 1 /* hidden */ ; drop table events', '42601', 'a statement after a comment'),
 ('WITH d AS (DELETE FROM events RETURNING *) SELECT count(*) FROM d', '42501', 'a DELETE in WITH'),
 ('WITH u AS (UPDATE panelists SET age = 0 RETURNING 1) SELECT * FROM u', '42501', 'an UPDATE in WITH'),
 ('WITH i AS (INSERT INTO trap.writes DEFAULT VALUES RETURNING 1) SELECT 1', '42501', 'an INSERT in WITH'),
 ('SELECT * FROM (WITH d AS (DELETE FROM events RETURNING 1) SELECT * FROM d) s', '42501', 'a nested DELETE in WITH'),
 ('SELECT * INTO copy_of_panelists FROM panelists', '42501', 'SELECT INTO'),
 ('SELECT * FROM panelists FOR UPDATE', '42501', 'FOR UPDATE'),
 ('SELECT * FROM panelists FOR SHARE', '42501', 'FOR SHARE'),
 ('SELECT * FROM panelists p JOIN events e USING (user_id) FOR NO KEY UPDATE OF p', '42501', 'FOR NO KEY UPDATE'),
 ('COPY panelists TO STDOUT', '42501', 'COPY'),
 ('COPY (SELECT 1) TO PROGRAM ''id''', '42501', 'COPY TO PROGRAM'),
 ('BEGIN', '42501', 'BEGIN'),
 ('COMMIT', '42501', 'COMMIT'),
 ('SET statement_timeout = 0', '42501', 'SET'),
 ('RESET ALL', '42501', 'RESET'),
 ('EXPLAIN ANALYZE DELETE FROM panelists', '42501', 'EXPLAIN ANALYZE'),
 ('CALL trap.nothing()', '42501', 'CALL'),
 ('DO $$BEGIN DELETE FROM panelists; END$$', '42501', 'DO'),
 ('PREPARE p AS DELETE FROM panelists', '42501', 'PREPARE'),
 ('LISTEN somewhere', '42501', 'LISTEN'),
 ('SELECT pg_sleep(10)', '42501', 'pg_sleep'),
 ('SELECT pg_catalog.pg_sleep(10)', '42501', 'qualified pg_sleep'),
 ('SELECT "pg_sleep"(10)', '42501', 'quoted pg_sleep'),
 ('SELECT PG_SLEEP_FOR(''10 seconds'')', '42501', 'upper-case pg_sleep_for'),
 ('SELECT * FROM pg_catalog.pg_sleep_until(now() + interval ''10 s'')', '42501', 'pg_sleep_until in FROM'),
 ('SELECT (SELECT pg_sleep(10))', '42501', 'pg_sleep in a scalar sub-query'),
 ('SELECT * FROM (SELECT pg_sleep(10)) s', '42501', 'pg_sleep in a FROM sub-query'),
 ('SELECT 1 WHERE EXISTS (SELECT pg_advisory_lock(1))', '42501', 'an advisory lock in EXISTS'),
 ('SELECT set_config(''default_transaction_read_only'', ''off'', false)', '42501', 'set_config'),
 ('SELECT pg_catalog.set_config(''a.b'', ''c'', true)', '42501', 'qualified set_config'),
 ('SELECT pg_read_file(''/etc/passwd'')', '42501', 'pg_read_file'),
 ('SELECT pg_read_binary_file(''postgresql.conf'')', '42501', 'pg_read_binary_file'),
 ('SELECT * FROM pg_ls_dir(''.'')', '42501', 'pg_ls_dir'),
 ('SELECT lo_import(''/etc/passwd'')', '42501', 'lo_import'),
 ('SELECT * FROM dblink(''host=127.0.0.1'', ''select 1'') AS t(a int)', '42501', 'dblink'),
 ('SELECT pg_terminate_backend(pid) FROM pg_stat_activity', '42501', 'pg_terminate_backend'),
 ('SELECT pg_cancel_backend(1)', '42501', 'pg_cancel_backend'),
 ('SELECT pg_reload_conf()', '42501', 'pg_reload_conf'),
 ('SELECT pg_advisory_lock(1)', '42501', 'pg_advisory_lock'),
 ('SELECT pg_try_advisory_xact_lock(1)', '42501', 'pg_try_advisory_xact_lock'),
 ('SELECT nextval(''events_event_id_seq'')', '42501', 'nextval'),
 ('SELECT setval(''events_event_id_seq'', 1)', '42501', 'setval'),
 ('SELECT pg_notify(''c'', ''x'')', '42501', 'pg_notify'),
 ('SELECT pg_stat_reset()', '42501', 'pg_stat_reset'),
 ('SELECT pg_switch_wal()', '42501', 'pg_switch_wal'),
 ('SELECT txid_current()', '42501', 'txid_current'),
 ('SELECT query_to_xml(''delete from panelists'', true, false, '''')', '42501', 'query_to_xml'),
 ('SELECT * FROM crosstab(''select 1'') AS t(a int)', '42501', 'crosstab'),
 ('SELECT rolpassword FROM pg_authid', '42501', 'pg_authid'),
 ('SELECT * FROM pg_catalog.pg_shadow', '42501', 'pg_shadow'),
 ('SELECT * FROM "PG_AUTHID"', '42501', 'quoted pg_authid'),
 ('SELECT * FROM pg_user_mappings', '42501', 'pg_user_mappings'),
 ('SELECT query FROM pg_stat_activity', '42501', 'pg_stat_activity'),
 ('TABLE pg_authid', '42501', 'TABLE pg_authid'),
 ('', '42601', 'an empty query'),
 ('SELEC 1', '42601', 'a typo');

SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, sql), sqlstate, NULL,
                 format('rejected: %s', what))
  FROM hostile;

-- The rejections say what and how, in words an LLM can act on.
SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, 'SELECT pg_sleep(1)'), '42501',
                 'function pg_sleep() is not allowed: it only waits and holds a connection',
                 'a denied function is named with the reason');
SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, 'WITH d AS (DELETE FROM events RETURNING 1) SELECT 1'), '42501',
                 'the WITH clause "d" changes data (DELETE), which is not allowed',
                 'a data-modifying WITH is named');
SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, 'SELECT 1; SELECT 2'), '42601',
                 'only one statement per query is allowed, found 2', 'several statements are counted');

-- Contained rather than rejected: a dataset function that writes. (A query that runs forever
-- is cut off by the statement timeout: test/integration/query_execution.t, since PL/pgSQL
-- cannot catch SQLSTATE 57014.)
SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, 'SELECT trap.write_something()'), '25006', NULL,
                 'a write hidden in a dataset function fails in the read-only transaction');

SELECT is(pg_temp.dataset_fingerprint(:id), :'fingerprint_before', 'the dataset is unchanged after all of that');

-- Legitimate queries that merely contain scary words still run.
SELECT lives_ok(format('SELECT mcp.execute_query(%s, %L)', :id, q), format('runs: %s', q))
  FROM unnest(ARRAY[
    'SELECT ''DELETE FROM panelists; DROP TABLE events'' AS note',
    'SELECT $$pg_sleep(100)$$ AS s',
    'SELECT $tag$ ; UPDATE panelists SET age = 0; $tag$ AS t',
    'SELECT count(*) AS "delete" FROM panelists',
    'SELECT app, count(*) FROM events WHERE event_type = ''update'' GROUP BY app',
    E'-- DROP TABLE events\nSELECT 1',
    'SELECT ''pg_authid'' AS catalog_name',
    'SELECT * FROM (VALUES (''set_config''), (''nextval'')) AS v(function_name)',
    'SELECT 1 AS pg_sleep',
    'SELECT trap.slow(0.01)']) AS q;
SELECT is(mcp.execute_query(:id, 'SELECT ''DELETE FROM panelists'' AS note', 10, 'csv') ->> 'text',
          E'note\nDELETE FROM panelists', 'the string comes back as data');

-- check_query answers without running anything.
SELECT is(mcp.check_query('SELECT app, count(*) FROM events GROUP BY app') ->> 'aggregating', 'true', 'GROUP BY aggregates');
SELECT is(mcp.check_query('SELECT * FROM events') ->> 'aggregating', 'false', 'SELECT * is raw');
SELECT is(mcp.check_query('SELECT DISTINCT app FROM events') ->> 'aggregating', 'true', 'DISTINCT aggregates');
SELECT is(mcp.check_query('SELECT count(*) FROM events') ->> 'aggregating', 'true', 'count(*) aggregates');
SELECT is(mcp.check_query('SELECT sum(spend_inr) FROM events') ->> 'aggregating', 'true', 'sum() aggregates (found in the catalog)');
SELECT is(mcp.check_query('SELECT upper(app) FROM events') ->> 'aggregating', 'false', 'a scalar function does not aggregate');
SELECT is(mcp.check_query('SELECT user_id, rank() OVER (ORDER BY spend_inr) FROM events') ->> 'aggregating', 'true', 'a window function counts as aggregation');
SELECT is(mcp.check_query('SELECT * FROM (SELECT app, count(*) FROM events GROUP BY app) s') ->> 'aggregating', 'true', 'rows of an aggregated sub-query are aggregated');
SELECT is(mcp.check_query('WITH a AS (SELECT app, count(*) FROM events GROUP BY 1) SELECT * FROM a') ->> 'aggregating', 'true', 'rows of an aggregated CTE are aggregated');
SELECT is(mcp.check_query('WITH a AS (SELECT * FROM events) SELECT * FROM a') ->> 'aggregating', 'false', 'rows of a raw CTE are raw');
SELECT is(mcp.check_query('SELECT user_id FROM events UNION ALL SELECT user_id FROM panelists') ->> 'aggregating', 'false', 'UNION ALL of raw rows is raw');
SELECT is(mcp.check_query('SELECT * FROM panelists p WHERE EXISTS (SELECT count(*) FROM events)') ->> 'aggregating', 'false', 'an aggregate in a sub-query does not aggregate the outer rows');
SELECT is(mcp.check_query('SELECT now()') ->> 'aggregating', 'true', 'a query without FROM returns no dataset rows');
SELECT is(mcp.check_query('SELECT e.weight, x FROM t e') -> 'columns_referenced', '["weight", "x"]'::jsonb, 'column references are collected');

SELECT * FROM finish();
ROLLBACK;
