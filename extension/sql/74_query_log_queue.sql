-- The query log's queue (extension/query_log_queue.cpp): a call whose transaction writes
-- nothing else queues its log row in shared memory, and a background worker per database
-- inserts the queued rows together. The readers below write what is queued before they read.
CREATE FUNCTION mcp.flush_query_log() RETURNS bigint
LANGUAGE c VOLATILE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'mcp_flush_query_log';
COMMENT ON FUNCTION mcp.flush_query_log() IS
'Waits until every query-log row queued so far for this database is written (at most 10 s, then a WARNING) and returns how many were waiting; run it in its own statement before reading mcp.query_logs directly (the rows of calls whose transaction has not committed yet are not queued, and not waited for). The log''s own readers (search_query_logs, the dashboard, the CSV export) do it themselves.';

CREATE FUNCTION mcp.query_log_queue() RETURNS jsonb
LANGUAGE c VOLATILE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'mcp_query_log_queue';
COMMENT ON FUNCTION mcp.query_log_queue() IS
'The query-log queue of this database: {enabled (the library is preloaded and mcp_analytics.query_log_queue > 0), capacity_bytes, used_bytes, queued and written (entries since the queue was taken), pending, written_by_callers (rows callers wrote themselves because the queue could not take them), writer (none, starting, running, stopped), writer_pid}';

GRANT EXECUTE ON FUNCTION mcp.flush_query_log() TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.query_log_queue() TO mcp_admin;

-- The query-log rows matching a filter object: the vocabulary of GET /api/logs, shared with
-- the dashboard's log views.
CREATE OR REPLACE FUNCTION mcp._matching_query_logs(filters jsonb) RETURNS SETOF mcp.query_logs
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- skip and limit page the rows; the callers apply them.
    allowed constant text[] := ARRAY['client', 'tool', 'success', 'dataset_id', 'api_key_id',
                                     'user', 'session_id', 'since', 'until', 'q', 'house_rule', 'skip', 'limit'];
    f        jsonb := coalesce(filters, '{}');
    unknown  text;
    since_ts timestamptz;
    until_ts timestamptz;
    want_success  boolean;
    want_dataset  integer;
    want_key      integer;
    only_user     integer := mcp._log_viewer_user();
BEGIN
    IF jsonb_typeof(f) <> 'object' THEN
        RAISE EXCEPTION 'filters must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO unknown FROM jsonb_object_keys(f) k WHERE k <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown filter(s): %', unknown
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Filters: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    BEGIN
        want_success := (f ->> 'success')::boolean;
        want_dataset := (f ->> 'dataset_id')::integer;
        want_key := (f ->> 'api_key_id')::integer;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        RAISE EXCEPTION 'success is true or false; dataset_id and api_key_id are integers'
            USING ERRCODE = 'invalid_parameter_value';
    END;
    IF f ->> 'house_rule' IS NOT NULL AND f ->> 'house_rule' NOT IN ('raw_rows', 'min_cells', 'any', 'none') THEN
        RAISE EXCEPTION 'house_rule is raw_rows, min_cells, any or none, not %', left(f ->> 'house_rule', 50)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    since_ts := mcp._filter_time(f ->> 'since', 'since');
    until_ts := mcp._filter_time(f ->> 'until', 'until');
    -- Rows still queued are written first; VOLATILE, so the query below sees them.
    PERFORM mcp.flush_query_log();
    RETURN QUERY
    SELECT l.* FROM mcp.query_logs l
     WHERE (f ->> 'client' IS NULL OR l.client_name = f ->> 'client')
       AND (f ->> 'tool' IS NULL OR l.tool_used = f ->> 'tool' OR l.mcp_tool = f ->> 'tool')
       AND (want_success IS NULL OR l.success = want_success)
       AND (want_dataset IS NULL OR l.datasets_used @> ARRAY[want_dataset])
       AND (want_key IS NULL OR l.api_key_id = want_key)
       AND (only_user IS NULL OR l.user_id = only_user)
       -- A person by login; an unknown login matches nothing.
       AND (f ->> 'user' IS NULL
            OR l.user_id = (SELECT u.id FROM mcp.users u WHERE u.login = lower(btrim(f ->> 'user'))))
       AND (f ->> 'session_id' IS NULL OR l.session_id = f ->> 'session_id')
       AND (since_ts IS NULL OR l.created_at >= since_ts)
       AND (until_ts IS NULL OR l.created_at < until_ts)
       AND (f ->> 'house_rule' IS NULL OR l.house_rule = f ->> 'house_rule'
            OR (f ->> 'house_rule' = 'any' AND l.house_rule IS NOT NULL)
            OR (f ->> 'house_rule' = 'none' AND l.house_rule IS NULL))
       AND (f ->> 'q' IS NULL OR strpos(lower(l.query_text), lower(f ->> 'q')) > 0
            OR strpos(lower(coalesce(l.error_message, '')), lower(f ->> 'q')) > 0);
END
$$;
COMMENT ON FUNCTION mcp._matching_query_logs(jsonb) IS
'Internal: query-log rows matching {client, tool, success, dataset_id, api_key_id, user (a person''s login), session_id, since, until, q, house_rule (raw_rows, min_cells, any, none)}, shared by mcp.search_query_logs (REST) and the dashboard; rows still queued for the log writer are written first';
