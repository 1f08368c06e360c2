------------------------------------------------------------------------------------------
-- W3C trace context in the query log: the traceparent an MCP client sends in a request's
-- _meta reaches the rows of the queries that request ran (see 01_tables.sql, 20_query.sql).
------------------------------------------------------------------------------------------
ALTER TABLE mcp.query_logs
    ADD COLUMN traceparent text CHECK (traceparent ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$');
COMMENT ON COLUMN mcp.query_logs.traceparent IS 'W3C trace context of the MCP request that ran the query (its _meta.traceparent), linking the client''s trace, the bridge and this row';

CREATE OR REPLACE FUNCTION mcp._log_query(entry jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO mcp.query_logs (query_text, query_type, datasets_used, execution_time_ms,
        rows_returned, success, error_message, error_sqlstate, tool_used, mcp_tool, client_name,
        client_version, user_agent, session_id, api_key_id, response_format,
        response_size_bytes, was_cached, traceparent)
    SELECT entry ->> 'query_text', entry ->> 'query_type',
           ARRAY(SELECT jsonb_array_elements_text(entry -> 'datasets_used')::integer),
           (entry ->> 'execution_time_ms')::double precision,
           (entry ->> 'rows_returned')::integer, (entry ->> 'success')::boolean,
           entry ->> 'error_message', entry ->> 'error_sqlstate',
           mcp.client_tool(entry #>> '{context,client_name}', entry #>> '{context,user_agent}'),
           entry #>> '{context,tool}',
           entry #>> '{context,client_name}', entry #>> '{context,client_version}',
           entry #>> '{context,user_agent}', entry #>> '{context,session_id}',
           (entry #>> '{context,api_key_id}')::integer,
           entry ->> 'response_format', (entry ->> 'response_size_bytes')::integer,
           (entry ->> 'was_cached')::boolean,
           -- Malformed trace context is dropped, not a failed log write.
           CASE WHEN entry #>> '{context,traceparent}' ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
                THEN entry #>> '{context,traceparent}' END
$$;
