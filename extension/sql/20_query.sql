------------------------------------------------------------------------------------------
-- Query execution: the guard, one query, up to 30 in parallel, the result cache, the log
------------------------------------------------------------------------------------------
CREATE UNLOGGED TABLE mcp.query_cache (
    cache_key   text PRIMARY KEY,
    dataset_id  integer NOT NULL REFERENCES mcp.datasets (id) ON DELETE CASCADE,
    result      jsonb NOT NULL,
    row_count   bigint NOT NULL CHECK (row_count >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX query_cache_dataset_idx ON mcp.query_cache (dataset_id);
CREATE INDEX query_cache_expires_idx ON mcp.query_cache (expires_at);
COMMENT ON TABLE mcp.query_cache IS 'Query results shared by all sessions for mcp_analytics.cache_ttl seconds (unlogged, not dumped)';

-- A changed, re-profiled or deactivated dataset must not answer from old results.
CREATE FUNCTION mcp._forget_cached_results() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM mcp.query_cache WHERE dataset_id = OLD.id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._forget_cached_results() IS 'Trigger: drops a dataset''s cached query results when the dataset changes';
CREATE TRIGGER datasets_forget_cached_results AFTER UPDATE OR DELETE ON mcp.datasets
    FOR EACH ROW EXECUTE FUNCTION mcp._forget_cached_results();

-- The client family for the log's tool_used column, from the MCP client name or user agent.
-- One SELECT without FROM, no SET clause and every name qualified, so that PostgreSQL inlines
-- it into the query log's INSERT instead of planning a function call for every row.
CREATE FUNCTION mcp.client_tool(client_name text, user_agent text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN pg_catalog.lower(coalesce(client_name, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) coalesce(user_agent, ''))
             OPERATOR(pg_catalog.~) 'claude|anthropic' THEN 'claude'
        WHEN pg_catalog.lower(coalesce(client_name, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) coalesce(user_agent, ''))
             OPERATOR(pg_catalog.~) 'chatgpt|openai' THEN 'chatgpt'
        WHEN pg_catalog.lower(coalesce(client_name, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) coalesce(user_agent, ''))
             OPERATOR(pg_catalog.~) 'cursor' THEN 'cursor'
        WHEN pg_catalog.lower(coalesce(client_name, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) coalesce(user_agent, ''))
             OPERATOR(pg_catalog.~) 'inspector' THEN 'mcp-inspector'
        WHEN pg_catalog.lower(coalesce(client_name, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) coalesce(user_agent, ''))
             OPERATOR(pg_catalog.~) 'vscode|visual studio code|copilot' THEN 'vscode'
        WHEN pg_catalog.lower(coalesce(client_name, '') OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||) coalesce(user_agent, ''))
             OPERATOR(pg_catalog.~) 'manus' THEN 'manus'
        WHEN coalesce(client_name, '') OPERATOR(pg_catalog.<>) '' THEN pg_catalog.left(client_name, 100)
        WHEN coalesce(user_agent, '') OPERATOR(pg_catalog.<>) '' THEN 'api'
        ELSE 'sql'
    END
$$;
COMMENT ON FUNCTION mcp.client_tool(text, text) IS
'The client family logged as tool_used (claude, chatgpt, cursor, mcp-inspector, vscode, manus, the client''s own name, api, or sql for direct SQL calls), from the MCP client name and the user agent.';

CREATE FUNCTION mcp._log_query(entry jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO mcp.query_logs (query_text, query_type, datasets_used, execution_time_ms,
        rows_returned, success, error_message, error_sqlstate, tool_used, mcp_tool, client_name,
        client_version, user_agent, session_id, api_key_id, response_format,
        response_size_bytes, was_cached, house_rule, traceparent, user_id, oauth_client_id)
    SELECT entry ->> 'query_text', entry ->> 'query_type',
           ARRAY(SELECT jsonb_array_elements_text(entry -> 'datasets_used')::integer),
           (entry ->> 'execution_time_ms')::double precision,
           (entry ->> 'rows_returned')::integer, (entry ->> 'success')::boolean,
           entry ->> 'error_message', entry ->> 'error_sqlstate',
           mcp.client_tool(entry #>> '{context,client_name}', entry #>> '{context,user_agent}'),
           entry #>> '{context,tool}',
           entry #>> '{context,client_name}', entry #>> '{context,client_version}',
           entry #>> '{context,user_agent}', entry #>> '{context,session_id}',
           coalesce((entry #>> '{context,api_key_id}')::integer, mcp._caller_api_key()),
           entry ->> 'response_format', (entry ->> 'response_size_bytes')::integer,
           (entry ->> 'was_cached')::boolean, entry ->> 'house_rule',
           -- Malformed trace context is dropped, not a failed log write.
           CASE WHEN entry #>> '{context,traceparent}' ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
                THEN entry #>> '{context,traceparent}' END,
           -- The person and OAuth client behind the caller's row, when it is one.
           k.user_id, k.oauth_client_id
      FROM (SELECT 1) one
      -- The caller named by the context, else the one the bridge set (mcp._caller_api_key).
      LEFT JOIN mcp.api_keys k
             ON k.id = coalesce((entry #>> '{context,api_key_id}')::integer, mcp._caller_api_key())
$$;
COMMENT ON FUNCTION mcp._log_query(jsonb) IS 'Internal: writes one query-log row from the executor''s JSON entry';

CREATE FUNCTION mcp.execute_query(dataset_id integer, sql text, max_rows integer DEFAULT 1000,
                                  format text DEFAULT 'markdown', context jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_execute_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mcp.execute_query(integer, text, integer, text, jsonb) IS
'Runs one read-only query on an approved or active dataset and returns {columns, text (markdown or csv) or rows (json), row_count, truncated, execution_time_ms, warnings, house_rule, rows_held_back, cached}. The SQL is parsed by PostgreSQL''s parser and must be one SELECT / WITH ... SELECT / VALUES / TABLE that only reads; it runs in a read-only transaction with mcp_analytics.statement_timeout. House rules: at most mcp_analytics.max_raw_rows (5) raw records leave per call however they are packed (rows the server cannot prove to aggregate a group, judged from the parsed query and the dataset profile; collections of raw records are refused), and aggregated rows of groups under mcp_analytics.min_cell_users distinct panelists are held back; house_rule names the rule that changed the answer. context ({client_name, client_version, user_agent, session_id, api_key_id}) is recorded in mcp.query_logs, as every call is, failed ones included.';

CREATE FUNCTION mcp.execute_multi_query(queries jsonb, max_concurrency integer DEFAULT 8,
                                        context jsonb DEFAULT '{}')
RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_execute_multi_query'
LANGUAGE C VOLATILE PARALLEL UNSAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mcp.execute_multi_query(jsonb, integer, jsonb) IS
'Runs up to 30 queries ([{dataset_id, sql, label?, max_rows?, format?}]) concurrently, at most max_concurrency at a time, across datasets. Returns {results: [...] in input order, each with ok and either the execute_query fields or error {sqlstate, message, detail, hint}, succeeded, failed, execution_time_ms}. One failing or slow query never fails the others; each query is logged.';

CREATE FUNCTION mcp.check_query(sql text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_check_query'
LANGUAGE C STRICT STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mcp.check_query(text) IS
'Checks a query with the same guard as execute_query without running it: returns {ok, aggregating, row_cap, columns_referenced}, or raises the error execute_query would (42601 does not parse or several statements, 42501 writes, locks, settings, denied functions or catalogs).';

GRANT EXECUTE ON FUNCTION
    mcp.execute_query(integer, text, integer, text, jsonb),
    mcp.execute_multi_query(jsonb, integer, jsonb),
    mcp.check_query(text), mcp.client_tool(text, text)
TO mcp_reader;
