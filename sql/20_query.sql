-- execute_query and execute_multi_query as a client sees them: formats, the five-raw-rows
-- rule, the unweighted warning, argument errors, and per-query failures in a batch.
\set VERBOSITY default
\set SHOW_CONTEXT never
\getenv demo_conninfo MCP_DEMO_CONNINFO
SET client_min_messages = warning;
SELECT mcp.register_dataset('query_demo', :'demo_conninfo') AS id \gset
RESET client_min_messages;

-- Only approved or active datasets answer.
SELECT mcp.execute_query(:id, 'SELECT 1');
SELECT status FROM mcp.set_dataset_status(:id, 'profiling');
SELECT status FROM mcp.set_dataset_status(:id, 'metadata_pending');
SELECT status FROM mcp.set_dataset_status(:id, 'approved');

-- Answers, without the timing (which varies).
CREATE FUNCTION pg_temp.q(sql text, max_rows integer DEFAULT 1000, format text DEFAULT 'markdown')
RETURNS jsonb LANGUAGE sql AS $$
    SELECT mcp.execute_query((SELECT id FROM mcp.datasets() WHERE name = 'query_demo'), sql, max_rows, format)
           - 'execution_time_ms' - 'dataset_id'
$$;

SELECT jsonb_pretty(pg_temp.q('SELECT gender, count(*) AS panelists FROM panelists GROUP BY gender ORDER BY gender'));
SELECT pg_temp.q('SELECT gender, count(*) AS panelists FROM panelists GROUP BY gender ORDER BY gender', 10, 'csv') ->> 'text';
SELECT pg_temp.q('SELECT gender, count(*) AS panelists, round(avg(age), 2) AS mean_age, bool_and(age > 10) AS all_over_ten FROM panelists GROUP BY gender ORDER BY gender', 10, 'json') -> 'rows';

-- Escaping: pipes, newlines, backslashes, quotes, commas, NULL and the empty string.
SELECT pg_temp.q($$SELECT * FROM (VALUES ('a|b', E'two\nlines', 'back\slash', NULL, '', 'say "hi", ok')) v(pipe, newline, backslash, nothing, empty, quoted)$$) ->> 'text';
SELECT pg_temp.q($$SELECT * FROM (VALUES ('a|b', E'two\nlines', 'back\slash', NULL, '', 'say "hi", ok')) v(pipe, newline, backslash, nothing, empty, quoted)$$, 10, 'csv') ->> 'text';

-- The types the demo uses keep their PostgreSQL text form (and numbers, booleans and jsonb
-- their JSON form).
SELECT jsonb_pretty(pg_temp.q($$SELECT 12.50::numeric AS amount, DATE '2026-07-01' AS day,
    TIMESTAMPTZ '2026-07-01 10:30:00+00' AS at, ARRAY['mobile', 'ctv'] AS platforms,
    '{"a": [1, 2]}'::jsonb AS doc, 'नमस्ते ☕' AS greeting, 3::bigint AS n, true AS flag$$, 10, 'json'));

-- Five raw rows at most, with a warning that says how to aggregate instead.
SELECT p ->> 'row_count' AS row_count, p ->> 'truncated' AS truncated, p -> 'warnings' AS warnings
  FROM pg_temp.q('SELECT * FROM events') AS p;
SELECT p ->> 'row_count' AS row_count, p ->> 'truncated' AS truncated, jsonb_array_length(p -> 'warnings') AS warnings
  FROM pg_temp.q('SELECT user_id FROM events LIMIT 3') AS p;
SELECT p ->> 'row_count' AS row_count, p ->> 'truncated' AS truncated
  FROM pg_temp.q('SELECT DISTINCT app FROM events') AS p;
SELECT p ->> 'row_count' AS row_count, p ->> 'truncated' AS truncated, p -> 'warnings' AS warnings
  FROM pg_temp.q('SELECT app, count(*) FROM events GROUP BY app ORDER BY app', 3) AS p;
SET mcp_analytics.max_raw_rows = 2;
SELECT p ->> 'row_count' AS row_count FROM pg_temp.q('SELECT * FROM panelists') AS p;
RESET mcp_analytics.max_raw_rows;

-- A dataset with a weight column: aggregates that ignore it are flagged as unweighted.
SELECT has_weight_column FROM mcp.update_dataset(:id, '{"has_weight_column": true, "weight_column_name": "weight"}');
SELECT pg_temp.q('SELECT gender, count(*) FROM panelists GROUP BY gender') -> 'warnings' AS unweighted;
SELECT pg_temp.q('SELECT gender, round(sum(weight)) AS people FROM panelists WHERE weight > 0 GROUP BY gender ORDER BY 1') -> 'warnings' AS weighted;

-- Bad arguments.
SELECT mcp.execute_query(:id, 'SELECT 1', 0);
SELECT mcp.execute_query(:id, 'SELECT 1', 10000000);
SELECT mcp.execute_query(:id, 'SELECT 1', 10, 'xml');
SELECT mcp.execute_query(:id, NULL);
SELECT mcp.execute_query(:id, 'SELECT 1', 10, 'csv', '[1]');
SELECT mcp.execute_query(:id, 'SELECT 1', 10, 'csv', '{"client_name": 42}');
SELECT mcp.execute_query(999999, 'SELECT 1');
SELECT mcp.execute_query(:id, 'SELECT * FROM no_such_table');

-- Several at once: results in input order, each failure its own.
SELECT r ->> 'label' AS label, r ->> 'ok' AS ok, coalesce(r ->> 'text', r #>> '{error,sqlstate}') AS answer
  FROM jsonb_array_elements(mcp.execute_multi_query(jsonb_build_array(
        jsonb_build_object('dataset_id', :id, 'sql', 'SELECT count(*) AS panelists FROM panelists', 'label', 'panelists'),
        jsonb_build_object('dataset_id', :id, 'sql', 'DELETE FROM events', 'label', 'hostile'),
        jsonb_build_object('dataset_id', 999999, 'sql', 'SELECT 1', 'label', 'missing dataset'),
        jsonb_build_object('dataset_id', :id, 'sql', 'SELECT * FROM no_such_table', 'label', 'remote error'),
        jsonb_build_object('dataset_id', :id, 'sql', 'SELECT count(*) AS events FROM events'))) -> 'results') AS r;
SELECT m ->> 'succeeded' AS succeeded, m ->> 'failed' AS failed
  FROM mcp.execute_multi_query(jsonb_build_array(jsonb_build_object('dataset_id', :id, 'sql', 'SELECT 1'))) AS m;
SELECT mcp.execute_multi_query((SELECT jsonb_agg(jsonb_build_object('dataset_id', :id, 'sql', 'SELECT 1')) FROM generate_series(1, 31)));
SELECT mcp.execute_multi_query('[]');
SELECT mcp.execute_multi_query('{"dataset_id": 1}');
SELECT mcp.execute_multi_query('[{"sql": "SELECT 1"}]');
SELECT mcp.execute_multi_query(jsonb_build_array(jsonb_build_object('dataset_id', :id, 'sql', 'SELECT 1', 'max_rows', 'many')));
SELECT mcp.execute_multi_query(jsonb_build_array(jsonb_build_object('dataset_id', :id, 'sql', 'SELECT 1')), 0);

-- Every call above was logged, failures included (their rows queued for the log writer:
-- flush_query_log() waits until it has written them).
SELECT mcp.flush_query_log() >= 0 AS flushed;
SELECT query_type, success, error_sqlstate, count(*)
  FROM mcp.query_logs WHERE :id = ANY (datasets_used) OR 999999 = ANY (datasets_used)
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
