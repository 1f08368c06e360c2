-- mcp.call_tool and mcp._result_text are C++ now (extension/sql/72_mcp_tools.sql);
-- mcp.call_tool_result is new (55_tool_result.sql).
CREATE OR REPLACE FUNCTION mcp.call_tool(name text, arguments jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mcp_call_tool';

CREATE OR REPLACE FUNCTION mcp._result_text(result jsonb, format text) RETURNS text
LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_result_text';

