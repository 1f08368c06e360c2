-- The extension installs into schema mcp, with roles, tables and documented functions.
CREATE EXTENSION mcp_analytics;
SELECT extversion FROM pg_extension WHERE extname = 'mcp_analytics';

-- Every function the extension ships, with its arguments and whether COMMENT ON documents it.
SELECT p.oid::regprocedure AS function,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS documented
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'mcp'
 ORDER BY p.oid::regprocedure::text;

-- Tables registered for pg_dump (user configuration and their identity sequences).
SELECT c::regclass AS dumped_with_data
  FROM pg_extension, unnest(extconfig) AS c WHERE extname = 'mcp_analytics' ORDER BY c::regclass::text;

-- Roles exist and admins inherit readers.
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN ('mcp_reader', 'mcp_admin') ORDER BY 1;
SELECT pg_has_role('mcp_admin', 'mcp_reader', 'MEMBER') AS admin_is_reader;
