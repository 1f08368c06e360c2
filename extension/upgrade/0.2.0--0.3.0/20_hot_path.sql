-- The hot path (see 02_people_and_grants and 72_mcp_tools): the caller's key and the argument
-- check in C++, and mcp.call_tool calls the shipped tool handlers statically.
CREATE OR REPLACE FUNCTION mcp._caller_api_key() RETURNS integer
LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_caller_api_key';
COMMENT ON FUNCTION mcp._caller_api_key() IS 'Internal: the mcp.api_keys id of the caller (setting mcp.caller, else mcp.request_context.api_key_id), NULL for a direct SQL call';
CREATE OR REPLACE FUNCTION mcp._argument_problem(schema jsonb, value jsonb, path text DEFAULT 'arguments')
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_argument_problem';
COMMENT ON FUNCTION mcp._argument_problem(jsonb, jsonb, text) IS 'Internal: the first way value breaks a (simple) JSON Schema, as a sentence, or NULL';
CREATE OR REPLACE FUNCTION mcp.call_tool(name text, arguments jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tool     mcp.tools;
    args     jsonb := coalesce(arguments, '{}');
    caller   jsonb;
    problem  text;
    lacking  jsonb;
    answer   jsonb;
    message  text;
    detail   text;
    hint     text;
BEGIN
    SELECT * INTO tool FROM mcp.tools t WHERE t.name = call_tool.name;
    IF NOT FOUND OR NOT mcp._tool_available(tool) THEN
        RAISE EXCEPTION 'Unknown tool: %', coalesce(call_tool.name, 'NULL')
            USING ERRCODE = 'undefined_function',
                  HINT = 'tools/list (or SELECT name FROM mcp.mcp_tools()) names the tools.';
    END IF;
    problem := mcp._argument_problem(tool.input_schema, args);
    IF problem IS NOT NULL THEN
        RETURN mcp._tool_error(format('Invalid arguments for %s: %s.', tool.name, problem));
    END IF;
    caller := CASE WHEN jsonb_typeof(context) = 'object' THEN context ELSE '{}' END
              || jsonb_build_object('tool', tool.name);
    -- Whatever runs below, however deep, can attribute its work to the caller.
    PERFORM set_config('mcp.request_context', caller::text, true);
    -- An OAuth connection runs only the tools its scopes allow; _meta tells the bridge to
    -- answer 403 insufficient_scope so the client can ask for more (step-up).
    lacking := mcp._missing_tool_scope(tool.name);
    IF lacking IS NOT NULL THEN
        RETURN mcp._tool_error(lacking ->> 'message')
            || jsonb_build_object('_meta', jsonb_build_object('mcp-analytics/insufficient_scope', lacking ->> 'scope'));
    END IF;
    BEGIN
        -- The shipped handlers are called statically: PL/pgSQL keeps those plans for the
        -- session, where EXECUTE parses and plans on every call. Tools added later by INSERT
        -- (any handler) take the dynamic path.
        IF tool.handler = 'mcp._tool_execute_query' THEN
            answer := mcp._tool_execute_query(args, caller);
        ELSIF tool.handler = 'mcp._tool_weighted_query' THEN
            answer := mcp._tool_weighted_query(args, caller);
        ELSIF tool.handler = 'mcp._tool_execute_multi_query' THEN
            answer := mcp._tool_execute_multi_query(args, caller);
        ELSIF tool.handler = 'mcp._tool_list_datasets' THEN
            answer := mcp._tool_list_datasets(args, caller);
        ELSIF tool.handler = 'mcp._tool_describe_dataset' THEN
            answer := mcp._tool_describe_dataset(args, caller);
        ELSE
            EXECUTE format('SELECT %s($1, $2)', tool.handler) INTO answer USING args, caller;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
        RETURN mcp._tool_error('Error: ' || message
            || CASE WHEN coalesce(detail, '') <> '' THEN E'\nDetail: ' || detail ELSE '' END
            || CASE WHEN coalesce(hint, '') <> '' THEN E'\nHint: ' || hint ELSE '' END);
    END;
    RETURN jsonb_build_object(
        'content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', coalesce(answer ->> 'text', ''))),
        'structuredContent', coalesce(answer -> 'structured', '{}'),
        'isError', false);
END
$$;
COMMENT ON FUNCTION mcp.call_tool(text, jsonb, jsonb) IS
'Runs an MCP tool (tools/call) and returns its result: {content: [{type: text, text}], structuredContent, isError}. Bad arguments and failures are isError results that tell the model what to fix; an unknown tool is an error (SQLSTATE 42883). context {client_name, client_version, user_agent, session_id, api_key_id} reaches the query log, and is also readable as the transaction''s setting mcp.request_context.';
