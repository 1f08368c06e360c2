------------------------------------------------------------------------------------------
-- Privileges: PUBLIC gets nothing. Each part grants its own functions to mcp_reader and
-- mcp_admin; this last part takes away what PostgreSQL gives PUBLIC by default.
------------------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA mcp FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA mcp FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mcp FROM PUBLIC;
