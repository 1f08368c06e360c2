------------------------------------------------------------------------------------------
-- Where a query call's time goes (issue 12): per-phase figures of this backend.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.execution_phases(reset boolean DEFAULT false) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_execution_phases'
LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp.execution_phases(boolean) IS
'Where the time of mcp.execute_query calls went in this session''s backend, per phase: {arguments, dataset_lookup, guard, cache_lookup, remote_connect, remote_pipeline, format, cache_store, log_write, total}, each {calls, total_ms, mean_us}. remote_pipeline is BEGIN READ ONLY ... FETCH ... COMMIT on the dataset in one round trip. reset => true zeroes the figures after reading them. For benchmarks and diagnosis; the figures cover this backend only.';
GRANT EXECUTE ON FUNCTION mcp.execution_phases(boolean) TO mcp_admin;
