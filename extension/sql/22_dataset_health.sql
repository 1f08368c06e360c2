------------------------------------------------------------------------------------------
-- Dataset health: the circuit breaker's view (extension/circuit_breaker.cpp). After
-- mcp_analytics.breaker_failures connection failures in a row a dataset is unhealthy, and
-- calls to it are refused at once for mcp_analytics.breaker_cooldown.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._dataset_breakers() RETURNS jsonb
LANGUAGE c VOLATILE STRICT PARALLEL RESTRICTED AS 'MODULE_PATHNAME', 'mcp_dataset_breakers';
COMMENT ON FUNCTION mcp._dataset_breakers() IS
'The circuit breaker''s shared-memory state for this database''s datasets, as a JSON array; read it through mcp.dataset_health().';

CREATE FUNCTION mcp.dataset_health()
RETURNS TABLE (dataset_id integer, name text, health text, consecutive_failures integer,
               last_error text, last_failure_at timestamptz, refused_until timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.id, d.name,
           CASE WHEN b.open THEN 'unhealthy'
                WHEN coalesce(b.failures, 0) > 0 THEN 'degraded'
                ELSE 'healthy' END,
           coalesce(b.failures, 0), nullif(b.last_error, ''),
           CASE WHEN b.last_failure_unix_ms > 0 THEN to_timestamp(b.last_failure_unix_ms / 1000) END,
           CASE WHEN b.open AND b.open_until_unix_ms > 0 THEN to_timestamp(b.open_until_unix_ms / 1000) END
      FROM mcp.datasets d
      LEFT JOIN jsonb_to_recordset(mcp._dataset_breakers())
                AS b(dataset_id integer, failures integer, open boolean, last_failure_unix_ms float8,
                     open_until_unix_ms float8, last_error text)
             ON b.dataset_id = d.id
     ORDER BY d.id
$$;
COMMENT ON FUNCTION mcp.dataset_health() IS
'Each dataset''s connection health as this server sees it: healthy, degraded (recent connection failures) or unhealthy (mcp_analytics.breaker_failures failures in a row: calls are refused at once until refused_until, then one call probes it). last_error never holds a password.';

GRANT EXECUTE ON FUNCTION mcp.dataset_health() TO mcp_reader;
