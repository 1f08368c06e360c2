-- mcp.call_tool and mcp._result_text are C++ now, and mcp.call_tool_result is new
-- (extension/sql/72_mcp_tools.sql).
CREATE OR REPLACE FUNCTION mcp.call_tool(name text, arguments jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mcp_call_tool';

CREATE OR REPLACE FUNCTION mcp._result_text(result jsonb, format text) RETURNS text
LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_result_text';

CREATE FUNCTION mcp.call_tool_result(name text, arguments jsonb DEFAULT '{}', context jsonb DEFAULT '{}',
                                     OUT result text, OUT is_error boolean, OUT insufficient_scope text)
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mcp_call_tool_result';
COMMENT ON FUNCTION mcp.call_tool_result(text, jsonb, jsonb) IS
'mcp.call_tool as a row, for mcp-bridge: result is the MCP tool result as JSON text (as the bridge sends it, with no jsonb conversion of a large result either way), is_error its isError, insufficient_scope the scopes to ask for when an OAuth connection lacks the one the tool needs (else NULL).';
GRANT EXECUTE ON FUNCTION mcp.call_tool_result(text, jsonb, jsonb) TO mcp_reader;
