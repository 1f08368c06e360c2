-- The dataset lifecycle: only the allowed moves, approval recorded, changes announced.
\set VERBOSITY default
\set SHOW_CONTEXT never
\getenv demo_conninfo MCP_DEMO_CONNINFO

SELECT mcp.register_dataset('lifecycle', :'demo_conninfo') AS id \gset
SELECT from_status, array_agg(to_status ORDER BY to_status) AS may_become
  FROM mcp.status_transitions GROUP BY 1 ORDER BY 1;

SELECT mcp.set_dataset_status(:id, 'approved');      -- draft cannot skip review
SELECT mcp.set_dataset_status(:id, 'published');     -- unknown status
SELECT status FROM mcp.set_dataset_status(:id, 'profiling');
SELECT status FROM mcp.set_dataset_status(:id, 'metadata_pending');
SELECT status, approved_by = current_user AS approved_by_me, approved_at IS NOT NULL AS has_approved_at
  FROM mcp.set_dataset_status(:id, 'approved');
SELECT status FROM mcp.set_dataset_status(:id, 'active');
SELECT status FROM mcp.set_dataset_status(:id, 'active');  -- no-op
SELECT status FROM mcp.set_dataset_status(:id, 'inactive');
SELECT mcp.set_dataset_status(:id, 'approved');      -- coming back needs review again
SELECT count(*) AS live FROM mcp.datasets('active');
SELECT count(*) AS inactive FROM mcp.datasets('inactive');
