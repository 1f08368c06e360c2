-- mcp_analytics 0.4.0: metadata schema, dataset registry, roles.
\echo Use "CREATE EXTENSION mcp_analytics" to load this file. \quit

------------------------------------------------------------------------------------------
-- Roles. Cluster-wide, so they may exist already (another database, an earlier install).
------------------------------------------------------------------------------------------
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mcp_reader') THEN
        CREATE ROLE mcp_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'mcp_admin') THEN
        CREATE ROLE mcp_admin NOLOGIN;
    END IF;
END
$roles$;
GRANT mcp_reader TO mcp_admin;

COMMENT ON SCHEMA mcp IS 'mcp_analytics: dataset registry, query logs and analytics functions for MCP clients';
REVOKE ALL ON SCHEMA mcp FROM PUBLIC;
GRANT USAGE ON SCHEMA mcp TO mcp_reader;
