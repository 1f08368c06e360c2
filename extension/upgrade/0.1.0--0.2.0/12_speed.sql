-- Issue 12: per-phase timings of query calls (extension/sql/21_execution_phases.sql).
CREATE FUNCTION mcp.execution_phases(reset boolean DEFAULT false) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_execution_phases'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp.execution_phases(boolean) IS
'Where the time of mcp.execute_query calls went in this session''s backend, per phase: {arguments, dataset_lookup, guard, cache_lookup, remote_connect, remote_pipeline, format, cache_store, log_write, total}, each {calls, total_ms, mean_us}. remote_pipeline is BEGIN READ ONLY ... FETCH ... COMMIT on the dataset in one round trip. reset => true zeroes the figures after reading them. For benchmarks and diagnosis; the figures cover this backend only.';
REVOKE ALL ON FUNCTION mcp.execution_phases(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mcp.execution_phases(boolean) TO mcp_admin;

-- Issue 12: mcp.client_tool inlined into the query log's INSERT (extension/sql/20_query.sql).
CREATE OR REPLACE FUNCTION mcp.client_tool(client_name text, user_agent text) RETURNS text
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

-- Issue 12: closed sessions announced to the bridges' session caches (extension/sql/71_mcp_sessions.sql).
-- Bridges keep a verified session for a moment; a session closed anywhere ends that at once.
-- The payload names no session: ids are credentials, and any role may LISTEN.
CREATE FUNCTION mcp._notify_sessions_closed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gone) THEN
        PERFORM pg_notify('mcp_analytics', '{"event": "sessions_closed"}');
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._notify_sessions_closed() IS 'Trigger: NOTIFY mcp_analytics with {event: sessions_closed} when sessions are deleted, so bridges drop cached sessions';
CREATE TRIGGER mcp_sessions_notify_closed AFTER DELETE ON mcp.mcp_sessions
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION mcp._notify_sessions_closed();
REVOKE ALL ON FUNCTION mcp._notify_sessions_closed() FROM PUBLIC;

-- Issue 12: the per-call helpers of mcp.call_tool in PL/pgSQL, whose plans last the session
-- (extension/sql/72_mcp_tools.sql).
CREATE OR REPLACE FUNCTION mcp._tool_available(tool mcp.tools) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN to_regprocedure(tool.handler || '(jsonb,jsonb)') IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM unnest(tool.requires) r WHERE to_regprocedure(r) IS NULL);
END
$$;
CREATE OR REPLACE FUNCTION mcp._result_text(result jsonb, format text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN concat_ws(E'\n\n',
        CASE WHEN format = 'json' THEN coalesce(result -> 'rows', '[]')::text
             ELSE coalesce(result ->> 'text', '') END,
        (SELECT string_agg('Warning: ' || w, E'\n')
           FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(result -> 'warnings') = 'array'
                                               THEN result -> 'warnings' ELSE '[]' END) w),
        concat_ws(', ',
            coalesce(result ->> 'row_count', '0') || ' row(s)',
            CASE WHEN (result ->> 'truncated')::boolean THEN 'truncated' END,
            CASE WHEN result ? 'execution_time_ms'
                 THEN round((result ->> 'execution_time_ms')::numeric, 1) || ' ms' END,
            CASE WHEN (result ->> 'cached')::boolean THEN 'from cache' END));
END
$$;
