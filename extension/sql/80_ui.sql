------------------------------------------------------------------------------------------
-- Dashboard (mcp-bridge serves it under /ui). Browser sessions and their CSRF tokens live
-- here, not in a bridge's memory, so any bridge serves any request of a signed-in browser.
-- The page functions compose the registry, review and log functions; they run as the caller
-- (SECURITY INVOKER), so the GRANTs of what they call decide, exactly as in psql.
------------------------------------------------------------------------------------------
CREATE TABLE mcp.ui_sessions (
    token_hash    bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    api_key_id    integer NOT NULL REFERENCES mcp.api_keys (id) ON DELETE CASCADE,
    csrf_token    text NOT NULL CHECK (csrf_token ~ '^[0-9a-f]{64}$'),
    user_agent    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX ui_sessions_api_key_idx ON mcp.ui_sessions (api_key_id);
CREATE INDEX ui_sessions_expires_idx ON mcp.ui_sessions (expires_at);
COMMENT ON TABLE mcp.ui_sessions IS 'Signed-in dashboard browsers: a SHA-256 hash of the session cookie (never the cookie), the API key it was opened with, its CSRF token; transient, not dumped';

CREATE FUNCTION mcp._ui_random_hex() RETURNS text
LANGUAGE sql VOLATILE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- Two version-4 UUIDs: 244 bits from the server's strong random source.
    SELECT encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex')
$$;
COMMENT ON FUNCTION mcp._ui_random_hex() IS 'Internal: 64 hex digits from the strong random source, for session and CSRF tokens';

CREATE FUNCTION mcp.ui_sign_in(api_key text, user_agent text DEFAULT NULL,
                               lifetime interval DEFAULT '12 hours')
RETURNS TABLE (session_token text, csrf_token text, api_key_id integer, key_name text,
               role text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    who      record;
    token    text := mcp._ui_random_hex();
    csrf     text := mcp._ui_random_hex();
    ends_at  timestamptz;
BEGIN
    IF lifetime IS NULL OR lifetime <= interval '0' OR lifetime > interval '30 days' THEN
        RAISE EXCEPTION 'a dashboard session lasts more than 0 and at most 30 days'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT a.api_key_id AS id, a.name, a.role INTO who FROM mcp.authenticate(api_key) a;
    IF NOT FOUND THEN
        RETURN;  -- unknown, revoked or expired: the caller says so without saying which
    END IF;
    -- Expired sessions go when new ones come: no job needed, and the table stays small.
    DELETE FROM mcp.ui_sessions s WHERE s.expires_at <= now();
    ends_at := now() + lifetime;
    INSERT INTO mcp.ui_sessions (token_hash, api_key_id, csrf_token, user_agent, expires_at)
    VALUES (sha256(convert_to(token, 'UTF8')), who.id, csrf, left(ui_sign_in.user_agent, 500), ends_at);
    session_token := token;
    csrf_token := csrf;
    api_key_id := who.id;
    key_name := who.name;
    role := who.role;
    expires_at := ends_at;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION mcp.ui_sign_in(text, text, interval) IS
'Signs a browser in to the dashboard with an API key: returns a new session token (for an HttpOnly cookie; only its SHA-256 hash is stored), the session''s CSRF token, the key''s id, name and role, and when the session ends; no row when the key is unknown, revoked or expired.';

CREATE FUNCTION mcp.ui_session(session_token text, idle_timeout interval DEFAULT '2 hours')
RETURNS TABLE (api_key_id integer, key_name text, role text, csrf_token text, expires_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    hash   bytea;
    hit    record;
BEGIN
    IF session_token IS NULL OR session_token !~ '^[0-9a-f]{64}$' THEN
        RETURN;
    END IF;
    hash := sha256(convert_to(session_token, 'UTF8'));
    -- The key is checked on every request: a revoked or expired key ends its sessions at once.
    -- A person's session is shown under their name, a key's under the key's.
    SELECT s.api_key_id AS id, coalesce(u.display_name, k.name) AS name, k.role, s.csrf_token AS csrf,
           s.expires_at AS ends_at, s.last_seen_at AS seen
      INTO hit
      FROM mcp.ui_sessions s JOIN mcp.api_keys k ON k.id = s.api_key_id
      LEFT JOIN mcp.users u ON u.id = k.user_id
     WHERE s.token_hash = hash
       AND s.expires_at > now()
       AND s.last_seen_at > now() - coalesce(idle_timeout, interval '2 hours')
       AND k.revoked_at IS NULL
       AND (k.expires_at IS NULL OR k.expires_at > now());
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A write per page view would make every request contend on one row; a minute will do.
    IF hit.seen < now() - interval '1 minute' THEN
        UPDATE mcp.ui_sessions s SET last_seen_at = now() WHERE s.token_hash = hash;
    END IF;
    api_key_id := hit.id;
    key_name := hit.name;
    role := hit.role;
    csrf_token := hit.csrf;
    expires_at := hit.ends_at;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION mcp.ui_session(text, interval) IS
'The dashboard session a cookie token belongs to (API key id, name, role, CSRF token, end), or no row when it is unknown, expired, idle longer than idle_timeout, or its API key was revoked or expired.';

CREATE FUNCTION mcp.ui_sign_out(session_token text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM mcp.ui_sessions s
         WHERE s.token_hash = sha256(convert_to(coalesce(session_token, ''), 'UTF8'))
        RETURNING 1)
    SELECT count(*) > 0 FROM gone
$$;
COMMENT ON FUNCTION mcp.ui_sign_out(text) IS 'Ends a dashboard session (signing out); true when there was one.';

------------------------------------------------------------------------------------------
-- Query-log views: statistics for the dashboard's charts, one entry in detail, CSV
-- export, over the rows mcp._matching_query_logs selects.
------------------------------------------------------------------------------------------

-- The label a log row is charted under: the MCP client's name, else its client family.
CREATE FUNCTION mcp._ui_client_label(client_name text, tool_used text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(nullif(client_name, ''), '(' || coalesce(nullif(tool_used, ''), 'unknown') || ')')
$$;
COMMENT ON FUNCTION mcp._ui_client_label(text, text) IS 'Internal: the client a log row is charted under (client name, else "(tool family)")';

CREATE FUNCTION mcp.query_log_stats(filters jsonb DEFAULT '{}', max_clients integer DEFAULT 8)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f          jsonb := coalesce(filters, '{}');
    since_ts   timestamptz;
    until_ts   timestamptz;
    width      integer;
    first_at   double precision;
    n_buckets  integer;
    result     jsonb;
BEGIN
    IF coalesce(max_clients, 0) NOT BETWEEN 1 AND 50 THEN
        RAISE EXCEPTION 'max_clients must be from 1 to 50' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(f) = 'object' AND NOT f ? 'since' THEN
        f := f || '{"since": "24h"}';  -- a chart needs a window; a day by default
    END IF;
    since_ts := mcp._filter_time(f ->> 'since', 'since');
    until_ts := coalesce(mcp._filter_time(f ->> 'until', 'until'), now());
    IF until_ts <= since_ts THEN
        RAISE EXCEPTION 'until must come after since' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The smallest round bucket width that cuts the window into at most 60 buckets.
    SELECT w INTO width
      FROM unnest(ARRAY[60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
                        172800, 604800, 2592000]) w
     WHERE extract(epoch FROM until_ts - since_ts) / w <= 60
     ORDER BY w LIMIT 1;
    width := coalesce(width, 2592000);
    first_at := extract(epoch FROM since_ts);  -- buckets start at since: at most 60 of them
    n_buckets := greatest(1, ceil((extract(epoch FROM until_ts) - first_at) / width)::integer);

    WITH hits AS (
        SELECT mcp._ui_client_label(l.client_name, l.tool_used) AS client,
               floor((extract(epoch FROM l.created_at) - first_at) / width)::integer AS bucket,
               l.execution_time_ms, l.success
          FROM mcp._matching_query_logs(f) l
    ),
    buckets AS (SELECT generate_series(0, n_buckets - 1) AS bucket),
    ranked AS (
        SELECT h.client, row_number() OVER (ORDER BY count(*) DESC, h.client) AS rank
          FROM hits h GROUP BY h.client
    ),
    labelled AS (  -- the busiest clients by name, the others together
        SELECT CASE WHEN k.rank <= max_clients THEN h.client ELSE '(other clients)' END AS client,
               least(k.rank, max_clients + 1) AS rank, h.bucket, h.success
          FROM hits h JOIN ranked k USING (client)
    ),
    per_client AS (
        SELECT x.client, min(x.rank) AS rank, count(*) AS calls,
               count(*) FILTER (WHERE NOT x.success) AS failed
          FROM labelled x GROUP BY x.client
    ),
    latency AS (
        SELECT b.bucket,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY h.execution_time_ms) AS p
          FROM buckets b LEFT JOIN hits h USING (bucket)
         GROUP BY b.bucket
    ),
    overall AS (
        SELECT count(*) AS calls, count(*) FILTER (WHERE NOT h.success) AS failed,
               count(DISTINCT h.client) AS clients,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY h.execution_time_ms) AS p
          FROM hits h
    )
    SELECT jsonb_build_object(
        'since', since_ts, 'until', until_ts, 'bucket_seconds', width,
        'buckets', (SELECT jsonb_agg((first_at + b.bucket * width)::bigint ORDER BY b.bucket) FROM buckets b),
        'clients', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                 'client', c.client, 'calls', c.calls, 'failed', c.failed,
                                 'series', (SELECT jsonb_agg(coalesce(n.calls, 0) ORDER BY b.bucket)
                                              FROM buckets b
                                              LEFT JOIN (SELECT x.bucket, count(*) AS calls FROM labelled x
                                                          WHERE x.client = c.client GROUP BY x.bucket) n
                                                     USING (bucket)))
                                 ORDER BY c.rank, c.client)
                               FROM per_client c), '[]'),
        'latency_ms', (SELECT jsonb_build_object(
                           'p50', jsonb_agg(round((l.p[1])::numeric, 3) ORDER BY l.bucket),
                           'p95', jsonb_agg(round((l.p[2])::numeric, 3) ORDER BY l.bucket),
                           'p99', jsonb_agg(round((l.p[3])::numeric, 3) ORDER BY l.bucket))
                         FROM latency l),
        'totals', (SELECT jsonb_build_object('calls', o.calls, 'failed', o.failed, 'clients', o.clients,
                                             'p50_ms', round((o.p[1])::numeric, 3),
                                             'p95_ms', round((o.p[2])::numeric, 3),
                                             'p99_ms', round((o.p[3])::numeric, 3))
                     FROM overall o))
      INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION mcp.query_log_stats(jsonb, integer) IS
'Query-log statistics for charts over the filters of mcp.search_query_logs (since defaults to 24h): calls per time bucket for each of the max_clients busiest clients (the rest as "(other clients)"), p50/p95/p99 latency per bucket, and totals. Buckets have a round width (1 min … 30 days), start at since and number at most 60; "buckets" holds their starts as Unix seconds.';

CREATE FUNCTION mcp.query_log(log_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    entry mcp.query_logs;
BEGIN
    SELECT * INTO entry FROM mcp.query_logs l
     WHERE l.id = log_id
       AND (mcp._log_viewer_user() IS NULL OR l.user_id = mcp._log_viewer_user());
    IF NOT FOUND THEN
        RAISE EXCEPTION 'query log entry % does not exist', log_id
            USING ERRCODE = 'no_data_found', HINT = 'Entries are listed by mcp.search_query_logs.';
    END IF;
    RETURN (to_jsonb(entry) - 'session_id') || jsonb_build_object(
        -- Enough of the session id to group calls, not enough to stand in for it.
        'session_prefix', left(entry.session_id, 8),
        'datasets', coalesce((SELECT jsonb_agg(jsonb_build_object('id', u.id, 'name', d.name) ORDER BY u.ord)
                                FROM unnest(entry.datasets_used) WITH ORDINALITY u(id, ord)
                                LEFT JOIN mcp.datasets d ON d.id = u.id), '[]'));
END
$$;
COMMENT ON FUNCTION mcp.query_log(bigint) IS
'One query-log entry in full (query text, type, datasets with their names, time, rows, success, error and SQLSTATE, client, format, size, cache), with the first 8 characters of its MCP session id only.';

CREATE FUNCTION mcp.query_log_clients(since interval DEFAULT '30 days')
RETURNS TABLE (client_name text, calls bigint, last_call_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.client_name, count(*), max(l.created_at)
      FROM mcp.query_logs l
     WHERE l.client_name IS NOT NULL AND l.created_at >= now() - coalesce(since, interval '30 days')
     GROUP BY l.client_name
     ORDER BY l.client_name
     LIMIT 500
$$;
COMMENT ON FUNCTION mcp.query_log_clients(interval) IS
'The MCP client names seen in the query log over the last `since` (default 30 days), with their call counts and last call: the choices of the dashboard''s client filter.';

-- One CSV field (RFC 4180). Text a spreadsheet would take for a formula is prefixed with an
-- apostrophe: a client's query text must not run as a formula on a reviewer's machine.
CREATE FUNCTION mcp._csv_field(value text, is_text boolean DEFAULT true) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN value IS NULL THEN ''
        WHEN is_text AND value ~ '^[=+@\t\r-]' THEN '"''' || replace(value, '"', '""') || '"'
        WHEN value ~ '[",\r\n]' OR value <> btrim(value) THEN '"' || replace(value, '"', '""') || '"'
        ELSE value
    END
$$;
COMMENT ON FUNCTION mcp._csv_field(text, boolean) IS 'Internal: one RFC 4180 CSV field; text that starts like a spreadsheet formula gets a leading apostrophe';

CREATE FUNCTION mcp.query_logs_csv(filters jsonb DEFAULT '{}', max_rows integer DEFAULT 100000)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    body text;
BEGIN
    IF coalesce(max_rows, 0) NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'max_rows must be from 1 to 1000000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(line, E'\r\n' ORDER BY created_at DESC, id DESC) INTO body
      FROM (SELECT l.id, l.created_at, concat_ws(',',
                   l.id::text,
                   mcp._csv_field(to_char(l.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), false),
                   mcp._csv_field(l.client_name), mcp._csv_field(l.client_version),
                   mcp._csv_field(l.tool_used), mcp._csv_field(l.query_type, false),
                   mcp._csv_field(array_to_string(l.datasets_used, ' '), false),
                   l.success::text, mcp._csv_field(l.error_sqlstate), mcp._csv_field(l.error_message),
                   coalesce(round(l.execution_time_ms::numeric, 3)::text, ''),
                   coalesce(l.rows_returned::text, ''), mcp._csv_field(l.response_format, false),
                   coalesce(l.response_size_bytes::text, ''), l.was_cached::text,
                   coalesce(l.api_key_id::text, ''), mcp._csv_field(l.user_agent),
                   mcp._csv_field(l.query_text)) AS line
              FROM mcp._matching_query_logs(filters) l
             ORDER BY l.created_at DESC, l.id DESC
             LIMIT max_rows) AS page;
    RETURN 'id,created_at,client_name,client_version,tool_used,query_type,datasets_used,success,'
        || 'error_sqlstate,error_message,execution_time_ms,rows_returned,response_format,'
        || 'response_size_bytes,was_cached,api_key_id,user_agent,query_text' || E'\r\n'
        || coalesce(body || E'\r\n', '');
END
$$;
COMMENT ON FUNCTION mcp.query_logs_csv(jsonb, integer) IS
'The query-log rows matching the filters of mcp.search_query_logs (no paging), newest first, as RFC 4180 CSV with a header line, at most max_rows rows; times in UTC; text that a spreadsheet would run as a formula is prefixed with an apostrophe.';

------------------------------------------------------------------------------------------
-- Page queries: what one dashboard page shows, in one call.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.ui_datasets_page(status text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN jsonb_build_object(
        'datasets', mcp.api_datasets(ui_datasets_page.status, 0, 1000),
        'counts', (SELECT coalesce(jsonb_object_agg(c.status, c.n), '{}')
                     FROM (SELECT d.status, count(*) AS n FROM mcp.datasets() d GROUP BY d.status) c),
        'busy', (SELECT coalesce(jsonb_agg(DISTINCT j.dataset_id), '[]')
                   FROM mcp.jobs_status(NULL, false) j WHERE j.dataset_id IS NOT NULL));
END
$$;
COMMENT ON FUNCTION mcp.ui_datasets_page(text) IS
'The dashboard''s dataset list: the datasets (optionally of one status, as mcp.api_datasets), the number in each status, and the ids of those with jobs queued or running.';

CREATE FUNCTION mcp.ui_dataset_progress(dataset_id integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'status', (SELECT d.status FROM mcp.dataset(ui_dataset_progress.dataset_id) d),
        'busy', EXISTS (SELECT 1 FROM mcp.jobs_status(ui_dataset_progress.dataset_id, false)),
        'jobs', (SELECT coalesce(jsonb_agg(to_jsonb(j) - 'result' - 'worker_pid' ORDER BY j.id DESC), '[]')
                   FROM (SELECT * FROM mcp.jobs_status(ui_dataset_progress.dataset_id) x
                          ORDER BY x.id DESC LIMIT 6) j))
$$;
COMMENT ON FUNCTION mcp.ui_dataset_progress(integer) IS
'Profiling progress of a dataset: its status, whether jobs are queued or running (busy), and its last six jobs with attempts, progress (table n of m) and errors.';

CREATE FUNCTION mcp.ui_dataset_page(dataset_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    metadata jsonb;
BEGIN
    BEGIN
        metadata := mcp.get_metadata(dataset_id);
    EXCEPTION WHEN no_data_found THEN
        metadata := NULL;  -- not written yet: the page says so
    END;
    RETURN jsonb_build_object(
        'dataset', to_jsonb(mcp.dataset(dataset_id)),
        'progress', mcp.ui_dataset_progress(dataset_id),
        'profile', (SELECT coalesce(jsonb_agg(to_jsonb(p) ORDER BY p.schema_name, p.table_name), '[]')
                      FROM mcp.dataset_profile(dataset_id) p),
        'metadata', metadata);
END
$$;
COMMENT ON FUNCTION mcp.ui_dataset_page(integer) IS
'One dataset''s dashboard page: the dataset (connection masked), its profiling progress, its stored profile (tables, columns, statistics, at most 5 sample rows each) and its metadata for review (mcp.get_metadata, with the generated version and the diff), or null metadata when none is written yet.';

CREATE FUNCTION mcp.ui_update_metadata(dataset_id integer, edited jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    current  jsonb := mcp.get_metadata(dataset_id);
    changes  jsonb;
BEGIN
    IF edited IS NULL OR jsonb_typeof(edited) <> 'object' THEN
        RAISE EXCEPTION 'edited must be a JSON object of metadata fields' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Only what the reviewer changed: an untouched form must not mark the metadata edited.
    SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') INTO changes
      FROM jsonb_each(edited) e
     WHERE nullif(nullif(e.value, 'null'), '""') IS DISTINCT FROM nullif(nullif(current -> e.key, 'null'), '""');
    IF changes = '{}' THEN
        RETURN current;
    END IF;
    RETURN mcp.update_metadata(dataset_id, changes);
END
$$;
COMMENT ON FUNCTION mcp.ui_update_metadata(integer, jsonb) IS
'Applies the dashboard''s metadata form: passes only the fields that differ from the current metadata to mcp.update_metadata (so an unchanged form leaves user_edited alone) and returns mcp.get_metadata.';

CREATE FUNCTION mcp.ui_logs_page(filters jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN jsonb_build_object(
        'logs', mcp.search_query_logs(filters),
        'stats', mcp.query_log_stats(coalesce(filters, '{}') - 'skip' - 'limit'),
        'clients', (SELECT coalesce(jsonb_agg(c.client_name ORDER BY c.client_name), '[]')
                      FROM mcp.query_log_clients() c),
        'people', (SELECT coalesce(jsonb_agg(jsonb_build_object('login', p.login, 'display_name', p.display_name)
                                             ORDER BY p.login), '[]')
                     FROM mcp.query_log_people() p));
END
$$;
COMMENT ON FUNCTION mcp.ui_logs_page(jsonb) IS
'The dashboard''s query-log page: a page of matching entries (mcp.search_query_logs), the statistics for its charts (mcp.query_log_stats over the same filters), the client names for the client filter and the people (login, name) for the person filter.';

GRANT EXECUTE ON FUNCTION mcp.ui_sign_in(text, text, interval), mcp.ui_session(text, interval),
    mcp.ui_sign_out(text), mcp.query_log_stats(jsonb, integer), mcp.query_log(bigint),
    mcp.query_log_clients(interval), mcp.query_logs_csv(jsonb, integer),
    mcp.ui_datasets_page(text), mcp.ui_dataset_progress(integer), mcp.ui_dataset_page(integer),
    mcp.ui_logs_page(jsonb)
TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.ui_update_metadata(integer, jsonb) TO mcp_admin;
