-- Functions that several parts above redefine (house rules, speed, trace context, people):
-- each of those parts knew only its own change, so the last word is the install script's
-- merged definition, here. extension_upgrade.t compares every body with a fresh install.

CREATE OR REPLACE FUNCTION mcp._log_query(entry jsonb) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO mcp.query_logs (query_text, query_type, datasets_used, execution_time_ms,
        rows_returned, success, error_message, error_sqlstate, tool_used, mcp_tool, client_name,
        client_version, user_agent, session_id, api_key_id, response_format,
        response_size_bytes, was_cached, house_rule, traceparent, user_id, oauth_client_id)
    SELECT entry ->> 'query_text', entry ->> 'query_type',
           ARRAY(SELECT jsonb_array_elements_text(entry -> 'datasets_used')::integer),
           (entry ->> 'execution_time_ms')::double precision,
           (entry ->> 'rows_returned')::integer, (entry ->> 'success')::boolean,
           entry ->> 'error_message', entry ->> 'error_sqlstate',
           mcp.client_tool(entry #>> '{context,client_name}', entry #>> '{context,user_agent}'),
           entry #>> '{context,tool}',
           entry #>> '{context,client_name}', entry #>> '{context,client_version}',
           entry #>> '{context,user_agent}', entry #>> '{context,session_id}',
           coalesce((entry #>> '{context,api_key_id}')::integer, mcp._caller_api_key()),
           entry ->> 'response_format', (entry ->> 'response_size_bytes')::integer,
           (entry ->> 'was_cached')::boolean, entry ->> 'house_rule',
           -- Malformed trace context is dropped, not a failed log write.
           CASE WHEN entry #>> '{context,traceparent}' ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'
                THEN entry #>> '{context,traceparent}' END,
           -- The person and OAuth client behind the caller's row, when it is one.
           k.user_id, k.oauth_client_id
      FROM (SELECT 1) one
      -- The caller named by the context, else the one the bridge set (mcp._caller_api_key).
      LEFT JOIN mcp.api_keys k
             ON k.id = coalesce((entry #>> '{context,api_key_id}')::integer, mcp._caller_api_key())
$$;

CREATE OR REPLACE FUNCTION mcp._matching_query_logs(filters jsonb) RETURNS SETOF mcp.query_logs
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- skip and limit page the rows; the callers apply them.
    allowed constant text[] := ARRAY['client', 'tool', 'success', 'dataset_id', 'api_key_id',
                                     'user', 'session_id', 'since', 'until', 'q', 'house_rule', 'skip', 'limit'];
    f        jsonb := coalesce(filters, '{}');
    unknown  text;
    since_ts timestamptz;
    until_ts timestamptz;
    want_success  boolean;
    want_dataset  integer;
    want_key      integer;
    only_user     integer := mcp._log_viewer_user();
BEGIN
    IF jsonb_typeof(f) <> 'object' THEN
        RAISE EXCEPTION 'filters must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(k, ', ' ORDER BY k) INTO unknown FROM jsonb_object_keys(f) k WHERE k <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown filter(s): %', unknown
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Filters: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    BEGIN
        want_success := (f ->> 'success')::boolean;
        want_dataset := (f ->> 'dataset_id')::integer;
        want_key := (f ->> 'api_key_id')::integer;
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        RAISE EXCEPTION 'success is true or false; dataset_id and api_key_id are integers'
            USING ERRCODE = 'invalid_parameter_value';
    END;
    IF f ->> 'house_rule' IS NOT NULL AND f ->> 'house_rule' NOT IN ('raw_rows', 'min_cells', 'any', 'none') THEN
        RAISE EXCEPTION 'house_rule is raw_rows, min_cells, any or none, not %', left(f ->> 'house_rule', 50)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    since_ts := mcp._filter_time(f ->> 'since', 'since');
    until_ts := mcp._filter_time(f ->> 'until', 'until');
    RETURN QUERY
    SELECT l.* FROM mcp.query_logs l
     WHERE (f ->> 'client' IS NULL OR l.client_name = f ->> 'client')
       AND (f ->> 'tool' IS NULL OR l.tool_used = f ->> 'tool' OR l.mcp_tool = f ->> 'tool')
       AND (want_success IS NULL OR l.success = want_success)
       AND (want_dataset IS NULL OR l.datasets_used @> ARRAY[want_dataset])
       AND (want_key IS NULL OR l.api_key_id = want_key)
       AND (only_user IS NULL OR l.user_id = only_user)
       -- A person by login; an unknown login matches nothing.
       AND (f ->> 'user' IS NULL
            OR l.user_id = (SELECT u.id FROM mcp.users u WHERE u.login = lower(btrim(f ->> 'user'))))
       AND (f ->> 'session_id' IS NULL OR l.session_id = f ->> 'session_id')
       AND (since_ts IS NULL OR l.created_at >= since_ts)
       AND (until_ts IS NULL OR l.created_at < until_ts)
       AND (f ->> 'house_rule' IS NULL OR l.house_rule = f ->> 'house_rule'
            OR (f ->> 'house_rule' = 'any' AND l.house_rule IS NOT NULL)
            OR (f ->> 'house_rule' = 'none' AND l.house_rule IS NULL))
       AND (f ->> 'q' IS NULL OR strpos(lower(l.query_text), lower(f ->> 'q')) > 0
            OR strpos(lower(coalesce(l.error_message, '')), lower(f ->> 'q')) > 0);
END
$$;

CREATE OR REPLACE FUNCTION mcp._result_text(result jsonb, format text) RETURNS text
LANGUAGE plpgsql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN concat_ws(E'\n\n',
        mcp.fence_untrusted(CASE WHEN format = 'json' THEN coalesce(result -> 'rows', '[]')::text
                                 ELSE coalesce(result ->> 'text', '') END),
        (SELECT string_agg('Warning: ' || w, E'\n')
           FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(result -> 'warnings') = 'array'
                                               THEN result -> 'warnings' ELSE '[]' END) w),
        concat_ws(', ',
            coalesce(result ->> 'row_count', '0') || ' row(s)',
            CASE WHEN (result ->> 'truncated')::boolean THEN 'truncated' END,
            CASE WHEN result ? 'execution_time_ms'
                 THEN round((result ->> 'execution_time_ms')::numeric, 1) || ' ms' END,
            CASE WHEN (result ->> 'cached')::boolean THEN 'from cache' END));
END
$$;

CREATE OR REPLACE FUNCTION mcp._tool_list_datasets(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    listed jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(mcp._dataset_summary(d) ORDER BY d.id), '[]') INTO listed
      FROM mcp.datasets d WHERE d.status IN ('approved', 'active') AND mcp._may_use_dataset(d.id);
    RETURN jsonb_build_object('text', mcp.fence_untrusted(mcp.context(1)), 'structured', jsonb_build_object('datasets', listed));
END
$$;

CREATE OR REPLACE FUNCTION mcp.read_resource(resource_uri text)
RETURNS TABLE (uri text, mime_type text, content text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wanted  text := resource_uri;
    parts   text[];
    d       mcp.datasets;
    body    text;
BEGIN
    IF wanted = 'mcp-analytics://context/global' THEN
        body := mcp.context(0);
    ELSIF wanted = 'mcp-analytics://datasets' THEN
        body := mcp.fence_untrusted(mcp.context(1));
    ELSE
        parts := regexp_match(wanted, '^mcp-analytics://datasets/([0-9]{1,9})/(overview|schema|tables/(.+))$');
        IF parts IS NOT NULL THEN
            SELECT * INTO d FROM mcp.datasets x
             WHERE x.id = parts[1]::integer AND x.status IN ('approved', 'active')
               AND mcp._may_use_dataset(x.id);
        END IF;
        IF d.id IS NULL OR (parts[3] IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM mcp.dataset_schemas s
                 WHERE s.dataset_id = d.id AND parts[3] IN (s.table_name, s.schema_name || '.' || s.table_name))) THEN
            RAISE EXCEPTION 'Resource not found: %', left(wanted, 300)
                USING ERRCODE = 'undefined_object',
                      HINT = 'resources/list and resources/templates/list show what can be read; datasets must be approved.';
        END IF;
        -- Everything about a dataset comes from it or was written about it: fenced.
        body := mcp.fence_untrusted(CASE WHEN parts[2] = 'overview' THEN mcp._dataset_overview(d)
                                         WHEN parts[2] = 'schema' THEN mcp.context(2, d.id)
                                         ELSE mcp.context(3, d.id, parts[3]) END);
    END IF;
    uri := wanted;
    mime_type := 'text/markdown';
    content := body;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION mcp.search_query_logs(filters jsonb DEFAULT '{}') RETURNS jsonb
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
                        (SELECT u.login FROM mcp.users u WHERE u.id = page.user_id))
                        ORDER BY page.created_at DESC, page.id DESC), '[]')
              FROM (SELECT * FROM matching m ORDER BY m.created_at DESC, m.id DESC OFFSET skip_n LIMIT limit_n) page)
      INTO total, items;
    RETURN jsonb_build_object('total', total, 'skip', skip_n, 'limit', limit_n, 'items', items);
END
$$;

COMMENT ON FUNCTION mcp._log_query(jsonb) IS 'Internal: writes one query-log row from the executor''s JSON entry';
COMMENT ON FUNCTION mcp._matching_query_logs(jsonb) IS
'Internal: query-log rows matching {client, tool, success, dataset_id, api_key_id, user (a person''s login), session_id, since, until, q, house_rule (raw_rows, min_cells, any, none)}, shared by mcp.search_query_logs (REST) and the dashboard';
COMMENT ON FUNCTION mcp._result_text(jsonb, text) IS 'Internal: an execute_query result as text for the model (the table fenced as untrusted data, warnings, row count and time)';
COMMENT ON FUNCTION mcp._tool_list_datasets(jsonb, jsonb) IS 'Tool list_datasets: live datasets (context level 1)';
COMMENT ON FUNCTION mcp.read_resource(text) IS
'The contents of one resource (resources/read) as markdown, dataset text inside an untrusted-data fence (mcp.fence_untrusted); an unknown URI, or a dataset that is not approved, is an error with SQLSTATE 42704.';
COMMENT ON FUNCTION mcp.search_query_logs(jsonb) IS
'GET /api/logs: query log rows, newest first (each with user_login, the person it ran for), filtered by {client, tool, success, dataset_id, api_key_id, user (a person''s login), session_id, since, until (timestamps or ages such as 24h, 7d), q (text in the query or error), house_rule (raw_rows, min_cells, any, none), skip, limit}; answers {total, skip, limit, items}.';
