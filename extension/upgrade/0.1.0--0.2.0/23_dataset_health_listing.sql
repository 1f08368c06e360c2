-- The dataset list carries each dataset's health (circuit breaker, 22_dataset_health.sql).
CREATE OR REPLACE FUNCTION mcp.api_datasets(status text DEFAULT NULL, skip integer DEFAULT 0, "limit" integer DEFAULT 100)
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    listed jsonb;
BEGIN
    IF api_datasets.status IS NOT NULL AND api_datasets.status NOT IN
       ('draft', 'profiling', 'metadata_pending', 'approved', 'active', 'inactive') THEN
        RAISE EXCEPTION 'unknown status %', quote_literal(api_datasets.status)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Statuses: draft, profiling, metadata_pending, approved, active, inactive.';
    END IF;
    IF coalesce(skip, 0) < 0 OR coalesce("limit", 100) NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'skip must be 0 or more and limit from 1 to 1000'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(jsonb_agg(to_jsonb(d) || jsonb_build_object('health', coalesce(h.health, 'healthy'))
                              ORDER BY d.id), '[]') INTO listed
      FROM (SELECT * FROM mcp.datasets(api_datasets.status) x ORDER BY x.id
             OFFSET coalesce(skip, 0) LIMIT coalesce("limit", 100)) d
      LEFT JOIN mcp.dataset_health() h ON h.dataset_id = d.id;
    RETURN listed;
END
$$;
COMMENT ON FUNCTION mcp.api_datasets(text, integer, integer) IS
'GET /api/datasets?status&skip&limit: a page of datasets as a JSON array, connections masked, each with its health (healthy, degraded, unhealthy: mcp.dataset_health()).';
