------------------------------------------------------------------------------------------
-- Profiling: a 'profile' job connects to the dataset, reads its catalog and profiles every
-- table and view (one aggregate scan per table, or pg_stats for big ones), detects weight,
-- user-id and date columns, and stores the result here in one transaction.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._store_profile(job_id bigint, attempt integer, profile jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    began    timestamptz := clock_timestamp();
    job      mcp.jobs := mcp._job_owned(job_id, attempt);
    ds       jsonb := profile -> 'dataset';
    t        jsonb;
    kept     text[] := '{}';
BEGIN
    IF job.id IS NULL THEN
        RETURN false;  -- another attempt owns the job now, or it was cancelled
    END IF;
    FOR t IN SELECT * FROM jsonb_array_elements(profile -> 'tables') LOOP
        INSERT INTO mcp.dataset_schemas AS s (dataset_id, schema_name, table_name, table_kind,
                    granularity, columns, sample, row_count, row_count_is_estimate, stats)
        VALUES (job.dataset_id, t ->> 'schema', t ->> 'name', t ->> 'kind', t ->> 'granularity',
                t -> 'columns', t -> 'sample', (t ->> 'row_count')::bigint,
                coalesce((t ->> 'row_count_is_estimate')::boolean, false), t -> 'stats')
        ON CONFLICT (dataset_id, schema_name, table_name) DO UPDATE SET
            table_kind = EXCLUDED.table_kind, granularity = EXCLUDED.granularity,
            columns = EXCLUDED.columns, sample = EXCLUDED.sample, row_count = EXCLUDED.row_count,
            row_count_is_estimate = EXCLUDED.row_count_is_estimate, stats = EXCLUDED.stats,
            updated_at = now();
        kept := kept || ((t ->> 'schema') || '.' || (t ->> 'name'));
    END LOOP;
    DELETE FROM mcp.dataset_schemas s
     WHERE s.dataset_id = job.dataset_id AND NOT (s.schema_name || '.' || s.table_name = ANY (kept));

    UPDATE mcp.datasets d SET
        dataset_type = coalesce(ds ->> 'dataset_type', d.dataset_type),
        has_weight_column = (ds ->> 'weight_column_name') IS NOT NULL OR d.weight_column_name IS NOT NULL,
        weight_column_name = coalesce(ds ->> 'weight_column_name', d.weight_column_name),
        user_id_column_name = coalesce(ds ->> 'user_id_column_name', d.user_id_column_name),
        user_table_name = coalesce(ds ->> 'user_table_name', d.user_table_name),
        estimated_row_count = (ds ->> 'estimated_row_count')::bigint,
        date_range_start = coalesce((ds ->> 'date_range_start')::date, d.date_range_start),
        date_range_end = coalesce((ds ->> 'date_range_end')::date, d.date_range_end),
        last_profiled_at = now(),
        updated_at = now()
     WHERE d.id = job.dataset_id;

    -- Two phases only this side sees: from due to picked up, and this store (in ms).
    PERFORM mcp._job_done(job_id, attempt, jsonb_set(profile -> 'summary', '{phases}',
        coalesce(profile #> '{summary,phases}', '{}') || jsonb_build_object(
            'pickup', round(extract(epoch FROM job.started_at - greatest(job.created_at, job.run_after))::numeric * 1000, 1),
            'store', round(extract(epoch FROM clock_timestamp() - began)::numeric * 1000, 1))));
    -- The metadata job follows, unless the dataset was taken out of review meanwhile.
    IF EXISTS (SELECT 1 FROM mcp.datasets d WHERE d.id = job.dataset_id AND d.status = 'profiling') THEN
        PERFORM mcp._enqueue_job('llm_metadata', job.dataset_id);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp._store_profile(bigint, integer, jsonb) IS 'Internal: stores a profile job''s result (table profiles, detected columns on the dataset) and queues the metadata job, all in one transaction, only if this attempt still owns the job';

CREATE FUNCTION mcp.profile_on_register(dataset_id integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT coalesce(current_setting('mcp_analytics.profile_on_register', true), 'on')::boolean THEN
        RETURN NULL;
    END IF;
    RETURN mcp._enqueue_job('profile', profile_on_register.dataset_id);
END
$$;
COMMENT ON FUNCTION mcp.profile_on_register(integer) IS
'Called by mcp.register_dataset: queues the new dataset''s profiling unless mcp_analytics.profile_on_register is off; returns the job id or NULL.';

CREATE FUNCTION mcp.reprofile_dataset(dataset_id integer, schemas text[] DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    current  mcp.datasets := mcp._dataset_row(dataset_id);
    chosen   text[] := schemas;
BEGIN
    IF chosen IS NULL THEN
        -- keep the schemas of the last profile request, if it named any
        SELECT ARRAY(SELECT jsonb_array_elements_text(j.payload -> 'schemas')) INTO chosen
          FROM mcp.jobs j
         WHERE j.dataset_id = reprofile_dataset.dataset_id AND j.kind = 'profile' AND j.payload ? 'schemas'
         ORDER BY j.id DESC LIMIT 1;
    END IF;
    UPDATE mcp.jobs j SET status = 'cancelled', finished_at = now()
     WHERE j.dataset_id = reprofile_dataset.dataset_id AND j.status = 'queued';
    IF current.status <> 'profiling' THEN
        PERFORM mcp.set_dataset_status(dataset_id, 'profiling');
    END IF;
    RETURN mcp._enqueue_job('profile', dataset_id,
        CASE WHEN chosen IS NULL OR cardinality(chosen) = 0 THEN '{}'::jsonb
             ELSE jsonb_build_object('schemas', to_jsonb(chosen)) END);
END
$$;
COMMENT ON FUNCTION mcp.reprofile_dataset(integer, text[]) IS
'Profiles a dataset again: status becomes profiling, a profile job is queued (then the metadata job), and the dataset returns to review (metadata_pending). schemas limits the profile to those schemas (default: as last time, else every non-system schema). Returns the job id.';

CREATE FUNCTION mcp.dataset_profile(dataset_id integer, one_table text DEFAULT NULL)
RETURNS TABLE (schema_name text, table_name text, table_kind text, granularity text,
               row_count bigint, row_count_is_estimate boolean, columns jsonb, sample jsonb,
               stats jsonb, profiled_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM mcp._dataset_row(dataset_id);
    RETURN QUERY
    SELECT s.schema_name, s.table_name, s.table_kind, s.granularity, s.row_count,
           s.row_count_is_estimate, s.columns,
           jsonb_path_query_array(s.sample, '$[0 to 4]'),  -- the five-raw-rows rule
           s.stats, s.updated_at
      FROM mcp.dataset_schemas s
     WHERE s.dataset_id = dataset_profile.dataset_id
       AND (one_table IS NULL OR s.table_name = one_table
            OR s.schema_name || '.' || s.table_name = one_table)
     ORDER BY s.schema_name, s.table_name;
END
$$;
COMMENT ON FUNCTION mcp.dataset_profile(integer, text) IS
'The stored profile of a dataset (or of one table): columns with types, keys and statistics (null fraction, distinct count, min/max, top values, detected roles), up to 5 of the 10 sample rows (the raw-rows rule), row count (exact or estimate) and how it was measured.';

GRANT EXECUTE ON FUNCTION mcp.dataset_profile(integer, text) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.reprofile_dataset(integer, text[]), mcp.profile_on_register(integer) TO mcp_admin;
