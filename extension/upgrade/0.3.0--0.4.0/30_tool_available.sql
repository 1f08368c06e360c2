-- mcp._tool_available is C++ now (extension/sql/72_mcp_tools.sql).
CREATE OR REPLACE FUNCTION mcp._tool_available(tool mcp.tools) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_tool_available';
