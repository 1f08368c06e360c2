------------------------------------------------------------------------------------------
-- Retention: the query log is partitioned by month of created_at, and a month past
-- mcp_analytics.log_retention is dropped whole (optionally archived to CSV first), so old
-- rows go without a long DELETE, a long lock or bloat. Expired sessions and cache rows go
-- in the same pass. Job workers run it (at start, and every
-- mcp_analytics.maintenance_interval); an admin may run it by hand.
------------------------------------------------------------------------------------------

-- A setting of this library as an interval ('90d' as PostgreSQL shows it); NULL when 0.
-- shipped_default stands in when the library is not loaded in this session yet.
CREATE FUNCTION mcp._setting_interval(name text, shipped_default interval) RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT nullif(coalesce(nullif(current_setting(name, true), '')::interval, shipped_default), interval '0')
$$;
COMMENT ON FUNCTION mcp._setting_interval(text, interval) IS
'Internal: a time setting (such as mcp_analytics.log_retention) as an interval, or shipped_default when the setting is not defined in this session; NULL when it is 0 (off)';

-- The start of the UTC month holding ts.
CREATE FUNCTION mcp._log_month_start(ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT date_trunc('month', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;
COMMENT ON FUNCTION mcp._log_month_start(timestamptz) IS
'Internal: the first instant (UTC) of the month holding ts; query-log partitions start there';

-- Every monthly partition of the query log, with its bounds (read from the catalog).
CREATE FUNCTION mcp.query_log_partitions()
RETURNS TABLE (partition_name text, month_start timestamptz, month_end timestamptz,
               estimated_rows bigint, total_bytes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.relname::text,
           to_timestamp(substr(c.relname, 13, 6), 'YYYYMM') AT TIME ZONE 'UTC' AT TIME ZONE 'UTC',
           (to_timestamp(substr(c.relname, 13, 6), 'YYYYMM') AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC',
           greatest(c.reltuples, 0)::bigint,
           pg_total_relation_size(c.oid)
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = 'mcp.query_logs'::regclass
       AND c.relname ~ '^query_logs_p[0-9]{6}$'
     ORDER BY c.relname
$$;
COMMENT ON FUNCTION mcp.query_log_partitions() IS
'The monthly partitions of mcp.query_logs (query_logs_pYYYYMM, UTC months), with their bounds, estimated rows and size on disk';

-- Writes rows to a CSV file in the archive folder (server-side COPY, as the extension's
-- owner); refuses a relative folder. Returns the file written.
CREATE FUNCTION mcp._archive_query_logs(source_sql text, file_stem text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    folder text := rtrim(current_setting('mcp_analytics.log_archive_dir', true), '/');
    target text;
BEGIN
    IF folder IS NULL OR folder = '' THEN
        RETURN NULL;
    END IF;
    IF left(folder, 1) <> '/' OR folder ~ '(^|/)\.\.(/|$)' THEN
        RAISE EXCEPTION 'mcp_analytics.log_archive_dir must be an absolute folder without ".."'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    target := folder || '/' || file_stem || '.csv';
    EXECUTE format('COPY (%s) TO %L WITH (FORMAT csv, HEADER)', source_sql, target);
    RETURN target;
END
$$;
COMMENT ON FUNCTION mcp._archive_query_logs(text, text) IS
'Internal: copies the rows of a query to <mcp_analytics.log_archive_dir>/<file_stem>.csv (CSV with a header); NULL when no archive folder is set';

-- Makes the partition of the month starting at month_start, moving in any rows the default
-- partition holds for it. The whole log is locked for this short step: a query planned before
-- the new partition is attached would otherwise miss the rows moved into it.
CREATE FUNCTION mcp._create_log_partition(month_start timestamptz) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    part text := 'query_logs_p' || to_char(month_start AT TIME ZONE 'UTC', 'YYYYMM');
    month_end timestamptz := (month_start AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass('mcp.' || part) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    LOCK TABLE mcp.query_logs IN ACCESS EXCLUSIVE MODE;
    -- The default partition is the template: its columns, key and indexes.
    EXECUTE format('CREATE TABLE mcp.%I (LIKE mcp.query_logs_default INCLUDING DEFAULTS INCLUDING CONSTRAINTS '
                   'INCLUDING STORAGE INCLUDING INDEXES)', part);
    EXECUTE format('WITH moved AS (DELETE FROM mcp.query_logs_default WHERE created_at >= %L AND created_at < %L RETURNING *) '
                   'INSERT INTO mcp.%I SELECT * FROM moved', month_start, month_end, part);
    EXECUTE format('ALTER TABLE mcp.query_logs ATTACH PARTITION mcp.%I FOR VALUES FROM (%L) TO (%L)',
                   part, month_start, month_end);
    EXECUTE format('REVOKE ALL ON mcp.%I FROM PUBLIC', part);
    RETURN part;
END
$$;
COMMENT ON FUNCTION mcp._create_log_partition(timestamptz) IS
'Internal: creates the query-log partition of one UTC month, moving its rows out of the default partition; NULL when it exists';

CREATE FUNCTION mcp.run_maintenance() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    retention   interval := mcp._setting_interval('mcp_analytics.log_retention', interval '90 days');
    cutoff      timestamptz := CASE WHEN retention IS NULL THEN NULL ELSE now() - retention END;
    this_month  timestamptz := mcp._log_month_start(now());
    created     text[] := '{}';
    dropped     text[] := '{}';
    archived    text[] := '{}';
    skipped     text[] := '{}';
    p           record;
    made        text;
    file        text;
    n_default   bigint := 0;
    n_ui        bigint;
    n_mcp       bigint;
    n_cache     bigint;
    n_context   bigint;
BEGIN
    -- Never wait long behind a reader for the brief exclusive locks below: skip, try next time.
    SET LOCAL lock_timeout = '2s';
    -- 1. Partitions for this month and the next, and for every month the default partition
    --    holds rows of (after an upgrade or a restore) that is still kept.
    FOR p IN
        SELECT m FROM (SELECT this_month AS m
                       UNION SELECT mcp._log_month_start(this_month + interval '32 days')
                       UNION SELECT DISTINCT mcp._log_month_start(d.created_at)
                               FROM mcp.query_logs_default d
                              WHERE cutoff IS NULL OR d.created_at >= mcp._log_month_start(cutoff)) months
         ORDER BY m
    LOOP
        BEGIN
            made := mcp._create_log_partition(p.m);
            IF made IS NOT NULL THEN created := created || made; END IF;
        EXCEPTION WHEN lock_not_available THEN
            skipped := skipped || ('create ' || to_char(p.m AT TIME ZONE 'UTC', 'YYYY-MM'));
        END;
    END LOOP;
    IF cutoff IS NOT NULL THEN
        -- 2. Whole months that ended before the cutoff: archive, then drop.
        FOR p IN SELECT * FROM mcp.query_log_partitions() x WHERE x.month_end <= cutoff LOOP
            BEGIN
                file := mcp._archive_query_logs(format('SELECT * FROM mcp.%I ORDER BY id', p.partition_name),
                                                p.partition_name);
                EXECUTE format('DROP TABLE mcp.%I', p.partition_name);
                dropped := dropped || p.partition_name;
                IF file IS NOT NULL THEN archived := archived || file; END IF;
            EXCEPTION WHEN lock_not_available THEN
                skipped := skipped || ('drop ' || p.partition_name);
            END;
        END LOOP;
        -- 3. Stray old rows in the default partition (few: months get their own partition).
        IF EXISTS (SELECT 1 FROM mcp.query_logs_default d WHERE d.created_at < cutoff) THEN
            file := mcp._archive_query_logs(
                format('SELECT * FROM mcp.query_logs_default WHERE created_at < %L ORDER BY id', cutoff),
                'query_logs_default_' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS'));
            DELETE FROM mcp.query_logs_default d WHERE d.created_at < cutoff;
            GET DIAGNOSTICS n_default = ROW_COUNT;
            IF file IS NOT NULL THEN archived := archived || file; END IF;
        END IF;
    END IF;
    -- 4. Sessions and caches past their time.
    DELETE FROM mcp.ui_sessions s WHERE s.expires_at <= now();
    GET DIAGNOSTICS n_ui = ROW_COUNT;
    DELETE FROM mcp.mcp_sessions s
     WHERE s.last_seen_at < now() - mcp._setting_interval('mcp_analytics.session_retention', interval '24 hours');
    GET DIAGNOSTICS n_mcp = ROW_COUNT;
    DELETE FROM mcp.query_cache c WHERE c.expires_at <= now();
    GET DIAGNOSTICS n_cache = ROW_COUNT;
    DELETE FROM mcp.context_cache c WHERE c.expires_at <= now();
    GET DIAGNOSTICS n_context = ROW_COUNT;
    RETURN jsonb_build_object(
        'log_retention', coalesce(retention::text, 'forever'),
        'cutoff', cutoff,
        'partitions_created', to_jsonb(created),
        'partitions_dropped', to_jsonb(dropped),
        'archived', to_jsonb(archived),
        'default_rows_deleted', n_default,
        'skipped_locked', to_jsonb(skipped),
        'ui_sessions_deleted', n_ui,
        'mcp_sessions_deleted', n_mcp,
        'query_cache_deleted', n_cache,
        'context_cache_deleted', n_context);
END
$$;
COMMENT ON FUNCTION mcp.run_maintenance() IS
'Applies retention now (job workers run it by themselves every mcp_analytics.maintenance_interval): creates the query-log partitions of this and next month (moving rows out of the default partition), archives to mcp_analytics.log_archive_dir (if set) and drops the monthly partitions that ended before now() - mcp_analytics.log_retention, and deletes expired dashboard sessions, MCP sessions idle past mcp_analytics.session_retention and expired cache rows. Returns what it did.';

CREATE FUNCTION mcp.log_retention_status() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'log_retention', coalesce(mcp._setting_interval('mcp_analytics.log_retention', interval '90 days')::text, 'forever'),
        'session_retention', mcp._setting_interval('mcp_analytics.session_retention', interval '24 hours')::text,
        'maintenance_interval', current_setting('mcp_analytics.maintenance_interval', true),
        'archive', nullif(current_setting('mcp_analytics.log_archive_dir', true), '') IS NOT NULL,
        'partitions', (SELECT count(*) FROM mcp.query_log_partitions()),
        'oldest_month', (SELECT min(p.month_start) FROM mcp.query_log_partitions() p),
        'default_rows', (SELECT count(*) FROM mcp.query_logs_default),
        'oldest_entry', (SELECT min(l.created_at) FROM mcp.query_logs l))
$$;
COMMENT ON FUNCTION mcp.log_retention_status() IS
'How long query logs and sessions are kept: mcp_analytics.log_retention, session_retention and maintenance_interval, whether an archive folder is set, the monthly partitions (count, oldest month), rows waiting in the default partition and the oldest entry';

GRANT EXECUTE ON FUNCTION mcp.query_log_partitions(), mcp.log_retention_status() TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.run_maintenance() TO mcp_admin;
