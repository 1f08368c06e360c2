-- The bridge's way into mcp.call_tool (extension/tool_call.cpp): the same call as a row.
CREATE FUNCTION mcp.call_tool_result(name text, arguments jsonb DEFAULT '{}', context jsonb DEFAULT '{}',
                                     OUT result text, OUT is_error boolean, OUT insufficient_scope text)
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mcp_call_tool_result';
COMMENT ON FUNCTION mcp.call_tool_result(text, jsonb, jsonb) IS
'mcp.call_tool as a row, for mcp-bridge: result is the MCP tool result as JSON text (as the bridge sends it, with no jsonb conversion of a large result either way), is_error its isError, insufficient_scope the scopes to ask for when an OAuth connection lacks the one the tool needs (else NULL).';
GRANT EXECUTE ON FUNCTION mcp.call_tool_result(text, jsonb, jsonb) TO mcp_reader;
