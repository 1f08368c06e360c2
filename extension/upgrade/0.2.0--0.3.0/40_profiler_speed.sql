-- Profiler speed: the job's finish time is the moment it ends (clock_timestamp), and a
-- profile's result carries the pickup and store phases (ms) beside the worker's own.
CREATE OR REPLACE FUNCTION mcp._job_done(job_id bigint, attempt integer, result jsonb, error text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE mcp.jobs j SET
        status = CASE WHEN _job_done.error IS NULL THEN 'done' ELSE 'failed' END,
        -- the moment it ends, not when its transaction began: request-to-done is measured
        finished_at = clock_timestamp(), result = _job_done.result, worker_pid = NULL,
        last_error = coalesce(_job_done.error, j.last_error),
        errors = CASE WHEN _job_done.error IS NULL THEN j.errors
                      ELSE j.errors || jsonb_build_array(jsonb_build_object(
                           'attempt', j.attempts, 'at', now(), 'error', _job_done.error)) END,
        progress = j.progress || jsonb_build_object('step', 'finished')
     WHERE j.id = job_id AND j.status = 'running' AND j.attempts = attempt;
    RETURN FOUND;
END
$$;

CREATE OR REPLACE FUNCTION mcp._store_profile(job_id bigint, attempt integer, profile jsonb) RETURNS boolean
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
