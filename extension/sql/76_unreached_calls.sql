------------------------------------------------------------------------------------------
-- Tool calls that never reached this database (it was restarting or unreachable, or every
-- bridge connection was busy). The bridge keeps them and writes them here once the database
-- answers again, so the query log still holds one row per query a client asked for.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.log_unreached_calls(calls jsonb) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    written integer;
BEGIN
    IF jsonb_typeof(calls) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'calls must be a JSON array'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give [{"tool", "arguments", "context", "reason", "at"}, …].';
    END IF;
    INSERT INTO mcp.query_logs (query_text, datasets_used, success, error_message, error_sqlstate,
                                tool_used, mcp_tool, client_name, client_version, user_agent,
                                session_id, api_key_id, created_at)
    SELECT left(CASE WHEN c.tool = 'weighted_query' THEN 'weighted_query ' || coalesce(q -> 'spec', 'null')::text
                     ELSE coalesce(q ->> 'sql', '') END, 100000),
           CASE WHEN jsonb_typeof(q -> 'dataset_id') = 'number' THEN ARRAY[(q ->> 'dataset_id')::integer]
                ELSE '{}' END,
           false,
           left(coalesce(c.reason, 'the metadata database was not reachable')
                || '; the query was not run'
                || CASE WHEN c.key_id IS NULL THEN ' (caller not verified)' ELSE '' END, 1000),
           '08006',
           mcp.client_tool(coalesce(c.client_name, s.client_name), coalesce(c.user_agent, s.user_agent)),
           c.tool, coalesce(c.client_name, s.client_name), coalesce(c.client_version, s.client_version),
           coalesce(c.user_agent, s.user_agent), c.session_id, coalesce(c.key_id, s.api_key_id),
           least(coalesce(c.at, now()), now())
      FROM jsonb_array_elements(calls) AS e
      CROSS JOIN LATERAL (
          SELECT e ->> 'tool' AS tool, e -> 'arguments' AS arguments,
                 nullif(e #>> '{context,client_name}', '') AS client_name,
                 nullif(e #>> '{context,client_version}', '') AS client_version,
                 nullif(e #>> '{context,user_agent}', '') AS user_agent,
                 nullif(e #>> '{context,session_id}', '') AS session_id,
                 nullif((e #>> '{context,api_key_id}')::integer, 0) AS key_id,
                 e ->> 'reason' AS reason, (e ->> 'at')::timestamptz AS at) AS c
      -- The session fills in who called when the bridge could not ask; only the session's own
      -- key may claim it.
      LEFT JOIN mcp.mcp_sessions s
             ON s.id = c.session_id AND (c.key_id IS NULL OR s.api_key_id = c.key_id)
      CROSS JOIN LATERAL jsonb_array_elements(
          CASE WHEN c.tool = 'execute_multi_query' AND jsonb_typeof(c.arguments -> 'queries') = 'array'
               THEN c.arguments -> 'queries'
               ELSE jsonb_build_array(coalesce(c.arguments, '{}')) END) AS q
     WHERE c.tool IN ('execute_query', 'execute_multi_query', 'weighted_query')
       AND jsonb_typeof(q) = 'object';
    GET DIAGNOSTICS written = ROW_COUNT;
    RETURN written;
END
$$;
COMMENT ON FUNCTION mcp.log_unreached_calls(jsonb) IS
'For mcp-bridge: writes one failed query-log row (SQLSTATE 08006, "the query was not run") per query of each tool call that could not reach this database, at the time of the call. calls: [{tool, arguments, context: {client_name, client_version, user_agent, session_id, api_key_id}, reason, at}]. Calls of tools that run no query write nothing. Returns the rows written.';

GRANT EXECUTE ON FUNCTION mcp.log_unreached_calls(jsonb) TO mcp_admin;
