------------------------------------------------------------------------------------------
-- REST helpers: one function per /api route, answering the JSON the route returns. Those
-- that change something run as the caller (SECURITY INVOKER), so the GRANTs of the functions
-- they call decide, exactly as in psql.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.api_datasets(status text DEFAULT NULL, skip integer DEFAULT 0, "limit" integer DEFAULT 100)
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

CREATE FUNCTION mcp.api_dataset(dataset_id integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT to_jsonb(mcp.dataset(dataset_id))
$$;
COMMENT ON FUNCTION mcp.api_dataset(integer) IS 'GET /api/datasets/{id}: one dataset as JSON (SQLSTATE P0002 when it does not exist).';

CREATE FUNCTION mcp.api_register_dataset(body jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    unknown text;
    new_id  integer;
BEGIN
    IF body IS NULL OR jsonb_typeof(body) <> 'object' THEN
        RAISE EXCEPTION 'the body must be a JSON object {"name", "connection_string", "data_source", "description"}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO unknown FROM jsonb_object_keys(body) k
     WHERE k NOT IN ('name', 'connection_string', 'data_source', 'description');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown field(s): %', unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Fields: name, connection_string (required), data_source, description.';
    END IF;
    IF jsonb_typeof(body -> 'name') IS DISTINCT FROM 'string'
       OR jsonb_typeof(body -> 'connection_string') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'name and connection_string are required strings'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Two statements: the STABLE reader must see what this one inserted.
    new_id := mcp.register_dataset(body ->> 'name', body ->> 'connection_string',
                                   coalesce(body ->> 'data_source', 'postgres'), body ->> 'description');
    RETURN mcp.api_dataset(new_id);
END
$$;
COMMENT ON FUNCTION mcp.api_register_dataset(jsonb) IS
'POST /api/datasets: registers {name, connection_string, data_source?, description?} through mcp.register_dataset and returns the new dataset as JSON.';

CREATE FUNCTION mcp.api_approve_dataset(dataset_id integer, approver text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM mcp.approve_dataset(dataset_id, approver);
    RETURN mcp.api_dataset(dataset_id);
END
$$;
COMMENT ON FUNCTION mcp.api_approve_dataset(integer, text) IS
'PATCH /api/datasets/{id}/approve: approves through mcp.approve_dataset (recording the approver) and returns the dataset as JSON.';

CREATE FUNCTION mcp.api_dataset_metadata(dataset_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    metadata jsonb;
BEGIN
    -- to_jsonb of the whole-row alias serves a function returning jsonb or a row type alike.
    SELECT to_jsonb(m) INTO metadata FROM mcp.get_metadata(dataset_id) m;
    IF metadata IS NULL OR metadata = 'null' THEN
        RAISE EXCEPTION 'dataset % has no metadata yet', dataset_id
            USING ERRCODE = 'no_data_found', HINT = 'Metadata is written after profiling.';
    END IF;
    RETURN metadata;
END
$$;
COMMENT ON FUNCTION mcp.api_dataset_metadata(integer) IS 'GET /api/datasets/{id}/metadata: the dataset''s LLM metadata as JSON, through mcp.get_metadata.';

CREATE FUNCTION mcp.api_update_dataset_metadata(dataset_id integer, changes jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    updated jsonb;
BEGIN
    SELECT to_jsonb(m) INTO updated FROM mcp.update_metadata(dataset_id, changes) m;
    RETURN updated;
END
$$;
COMMENT ON FUNCTION mcp.api_update_dataset_metadata(integer, jsonb) IS
'PATCH /api/datasets/{id}/metadata: applies a reviewer''s edits through mcp.update_metadata and returns the metadata as JSON.';

CREATE FUNCTION mcp._filter_time(value text, filter_name text) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    relative text[] := regexp_match(value, '^([0-9]{1,6})([mhd])$');
BEGIN
    IF relative IS NOT NULL THEN
        RETURN now() - (relative[1] || CASE relative[2] WHEN 'm' THEN ' minutes' WHEN 'h' THEN ' hours' ELSE ' days' END)::interval;
    END IF;
    RETURN value::timestamptz;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_parameter_value THEN
    RAISE EXCEPTION 'filter % must be a timestamp or an age such as 1h, 24h, 7d, 30d', filter_name
        USING ERRCODE = 'invalid_parameter_value';
END
$$;
COMMENT ON FUNCTION mcp._filter_time(text, text) IS 'Internal: a time filter, absolute (ISO 8601) or an age back from now (30m, 24h, 7d)';

CREATE FUNCTION mcp.search_query_logs(filters jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f        jsonb := coalesce(filters, '{}');
    skip_n   integer;
    limit_n  integer;
    total    bigint;
    items    jsonb;
BEGIN
    IF jsonb_typeof(f) <> 'object' THEN
        RAISE EXCEPTION 'filters must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        skip_n := coalesce((f ->> 'skip')::integer, 0);
        limit_n := coalesce((f ->> 'limit')::integer, 100);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        RAISE EXCEPTION 'skip and limit are integers' USING ERRCODE = 'invalid_parameter_value';
    END;
    IF skip_n < 0 OR limit_n NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'skip must be 0 or more and limit from 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH matching AS (SELECT * FROM mcp._matching_query_logs(f))
    SELECT (SELECT count(*) FROM matching),
           (SELECT coalesce(jsonb_agg(to_jsonb(page) || jsonb_build_object('user_login',
                        (SELECT u.login FROM mcp.users u WHERE u.id = page.user_id),
                        'oauth_client_name',
                        (SELECT c.client_name FROM mcp.oauth_clients c WHERE c.id = page.oauth_client_id))
                        ORDER BY page.created_at DESC, page.id DESC), '[]')
              FROM (SELECT * FROM matching m ORDER BY m.created_at DESC, m.id DESC OFFSET skip_n LIMIT limit_n) page)
      INTO total, items;
    RETURN jsonb_build_object('total', total, 'skip', skip_n, 'limit', limit_n, 'items', items);
END
$$;
COMMENT ON FUNCTION mcp.search_query_logs(jsonb) IS
'GET /api/logs: query log rows, newest first (each with user_login, the person it ran for, and oauth_client_name, the OAuth client they connected with), filtered by {client, tool, success, dataset_id, api_key_id, user (a person''s login), session_id, since, until (timestamps or ages such as 24h, 7d), q (text in the query or error), house_rule (raw_rows, min_cells, any, none), skip, limit}; answers {total, skip, limit, items}.';

GRANT EXECUTE ON FUNCTION mcp.api_datasets(text, integer, integer), mcp.api_dataset(integer),
    mcp.api_dataset_metadata(integer), mcp.search_query_logs(jsonb) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.api_register_dataset(jsonb), mcp.api_approve_dataset(integer, text),
    mcp.api_update_dataset_metadata(integer, jsonb) TO mcp_admin;
