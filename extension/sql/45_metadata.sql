------------------------------------------------------------------------------------------
-- Metadata: written by an 'llm_metadata' job (an OpenAI-compatible endpoint, or the
-- deterministic writer when none is configured), reviewed and edited by a person, approved.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._metadata_input(dataset_id integer) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'dataset', (SELECT jsonb_build_object(
                        'id', d.id, 'name', d.name, 'description', d.description,
                        'data_source', d.data_source, 'dataset_type', d.dataset_type,
                        'weight_column_name', d.weight_column_name,
                        'user_id_column_name', d.user_id_column_name,
                        'user_table_name', d.user_table_name,
                        'estimated_row_count', d.estimated_row_count,
                        'date_range_start', d.date_range_start, 'date_range_end', d.date_range_end)
                      FROM mcp.datasets d WHERE d.id = _metadata_input.dataset_id),
        'tables', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'schema', s.schema_name, 'name', s.table_name, 'kind', s.table_kind,
                        'granularity', s.granularity, 'row_count', s.row_count,
                        'row_count_is_estimate', s.row_count_is_estimate, 'columns', s.columns,
                        'sample', s.sample, 'stats', s.stats)
                        ORDER BY s.schema_name, s.table_name)
                      FROM mcp.dataset_schemas s WHERE s.dataset_id = _metadata_input.dataset_id), '[]'),
        'rules', coalesce((SELECT jsonb_object_agg(r.key, r.value ORDER BY r.key)
                      FROM mcp.settings() r WHERE r.key LIKE 'rules.%' OR r.key LIKE 'mappings.%'), '{}'))
$$;
COMMENT ON FUNCTION mcp._metadata_input(integer) IS 'Internal: what the metadata writer needs: the dataset, its stored profile and the business rules';

CREATE FUNCTION mcp._store_metadata(job_id bigint, attempt integer, metadata jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    job     mcp.jobs := mcp._job_owned(job_id, attempt);
    fields  jsonb;
BEGIN
    IF job.id IS NULL THEN
        RETURN false;
    END IF;
    fields := jsonb_build_object(
        'description', metadata -> 'description',
        'data_dictionary', coalesce(metadata -> 'data_dictionary', '{}'),
        'quality_observations', coalesce(metadata -> 'quality_observations', '[]'),
        'improvement_suggestions', coalesce(metadata -> 'improvement_suggestions', '[]'),
        'recommended_use_cases', coalesce(metadata -> 'recommended_use_cases', '[]'),
        'data_category', metadata -> 'data_category',
        'date_range_start', metadata -> 'date_range_start',
        'date_range_end', metadata -> 'date_range_end');
    INSERT INTO mcp.llm_metadata AS m (dataset_id, description, data_dictionary,
                quality_observations, improvement_suggestions, recommended_use_cases,
                data_category, date_range_start, date_range_end, generated, written_by,
                llm_model, prompt_tokens, completion_tokens, generation_time_ms, raw_response,
                llm_error)
    VALUES (job.dataset_id, fields ->> 'description', fields -> 'data_dictionary',
            ARRAY(SELECT jsonb_array_elements_text(fields -> 'quality_observations')),
            ARRAY(SELECT jsonb_array_elements_text(fields -> 'improvement_suggestions')),
            ARRAY(SELECT jsonb_array_elements_text(fields -> 'recommended_use_cases')),
            fields ->> 'data_category', (fields ->> 'date_range_start')::date,
            (fields ->> 'date_range_end')::date, fields, metadata ->> 'written_by',
            metadata ->> 'llm_model', (metadata ->> 'prompt_tokens')::integer,
            (metadata ->> 'completion_tokens')::integer, (metadata ->> 'generation_time_ms')::integer,
            metadata ->> 'raw_response', metadata ->> 'llm_error')
    ON CONFLICT (dataset_id) DO UPDATE SET
        -- A reviewer's edits stay; the new generated version sits beside them for a diff.
        description = CASE WHEN m.user_edited THEN m.description ELSE EXCLUDED.description END,
        data_dictionary = CASE WHEN m.user_edited THEN m.data_dictionary ELSE EXCLUDED.data_dictionary END,
        quality_observations = CASE WHEN m.user_edited THEN m.quality_observations ELSE EXCLUDED.quality_observations END,
        improvement_suggestions = CASE WHEN m.user_edited THEN m.improvement_suggestions ELSE EXCLUDED.improvement_suggestions END,
        recommended_use_cases = CASE WHEN m.user_edited THEN m.recommended_use_cases ELSE EXCLUDED.recommended_use_cases END,
        data_category = CASE WHEN m.user_edited THEN m.data_category ELSE EXCLUDED.data_category END,
        date_range_start = CASE WHEN m.user_edited THEN m.date_range_start ELSE EXCLUDED.date_range_start END,
        date_range_end = CASE WHEN m.user_edited THEN m.date_range_end ELSE EXCLUDED.date_range_end END,
        generated = EXCLUDED.generated, written_by = EXCLUDED.written_by,
        llm_model = EXCLUDED.llm_model, prompt_tokens = EXCLUDED.prompt_tokens,
        completion_tokens = EXCLUDED.completion_tokens,
        generation_time_ms = EXCLUDED.generation_time_ms, raw_response = EXCLUDED.raw_response,
        llm_error = EXCLUDED.llm_error, user_approved = false, updated_at = now();
    PERFORM mcp._move_dataset(job.dataset_id, ARRAY['profiling'], 'metadata_pending');
    PERFORM mcp._job_done(job_id, attempt,
        jsonb_build_object('written_by', metadata ->> 'written_by', 'llm_model', metadata ->> 'llm_model',
                           'prompt_tokens', metadata -> 'prompt_tokens',
                           'completion_tokens', metadata -> 'completion_tokens',
                           'http_attempts', metadata -> 'http_attempts'),
        metadata ->> 'llm_error');
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp._store_metadata(bigint, integer, jsonb) IS 'Internal: stores a metadata job''s result (keeping a reviewer''s edits, replacing the generated version) and moves the dataset to metadata_pending, once';

CREATE FUNCTION mcp._metadata_row(dataset_id integer) RETURNS mcp.llm_metadata
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_row mcp.llm_metadata;
BEGIN
    PERFORM mcp._dataset_row(dataset_id);
    SELECT * INTO found_row FROM mcp.llm_metadata m WHERE m.dataset_id = _metadata_row.dataset_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dataset % has no metadata yet', dataset_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'Metadata is written after profiling: see SELECT * FROM mcp.jobs_status(' || dataset_id || '), or start over with mcp.reprofile_dataset.';
    END IF;
    RETURN found_row;
END
$$;
COMMENT ON FUNCTION mcp._metadata_row(integer) IS 'Internal: the metadata row of a dataset, or a clear error';

CREATE FUNCTION mcp.get_metadata(dataset_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m        mcp.llm_metadata := mcp._metadata_row(dataset_id);
    d        mcp.datasets := mcp._dataset_row(dataset_id);
    current  jsonb;
    diff     jsonb;
BEGIN
    current := jsonb_build_object(
        'description', m.description, 'data_dictionary', m.data_dictionary,
        'quality_observations', to_jsonb(m.quality_observations),
        'improvement_suggestions', to_jsonb(m.improvement_suggestions),
        'recommended_use_cases', to_jsonb(m.recommended_use_cases),
        'data_category', m.data_category,
        'date_range_start', m.date_range_start, 'date_range_end', m.date_range_end);
    SELECT coalesce(jsonb_object_agg(c.key, jsonb_build_object('generated', m.generated -> c.key, 'current', c.value)), '{}')
      INTO diff
      FROM jsonb_each(current) c
     WHERE m.generated IS NOT NULL
       AND nullif(m.generated -> c.key, 'null') IS DISTINCT FROM nullif(c.value, 'null');
    RETURN current || jsonb_build_object(
        'dataset_id', d.id, 'dataset_name', d.name, 'status', d.status,
        'written_by', m.written_by,
        'written_by_llm', m.written_by = 'llm',
        'llm', jsonb_build_object('model', m.llm_model, 'prompt_tokens', m.prompt_tokens,
                                  'completion_tokens', m.completion_tokens,
                                  'generation_time_ms', m.generation_time_ms,
                                  'error', m.llm_error, 'raw_response', m.raw_response),
        'user_edited', m.user_edited, 'user_approved', m.user_approved, 'user_notes', m.user_notes,
        'approved_by', d.approved_by, 'approved_at', d.approved_at,
        'generated', m.generated, 'diff', diff,
        'created_at', m.created_at, 'updated_at', m.updated_at);
END
$$;
COMMENT ON FUNCTION mcp.get_metadata(integer) IS
'A dataset''s metadata for review: description, data dictionary, quality observations, improvement suggestions, use cases, category, date range; who wrote it (llm or profile), model and token counts, any LLM error with the raw answer, the generated version and a diff against the current (edited) one.';

CREATE FUNCTION mcp.update_metadata(dataset_id integer, changes jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    allowed  constant text[] := ARRAY['description', 'data_dictionary', 'quality_observations',
        'improvement_suggestions', 'recommended_use_cases', 'data_category', 'date_range_start',
        'date_range_end', 'user_notes'];
    lists    constant text[] := ARRAY['quality_observations', 'improvement_suggestions', 'recommended_use_cases'];
    unknown  text[];
    k        text;
BEGIN
    PERFORM mcp._metadata_row(dataset_id);
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'changes must be a JSON object, e.g. {"description": "..."}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(c ORDER BY c) INTO unknown FROM jsonb_object_keys(changes) c WHERE c <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown field(s) in changes: %', array_to_string(unknown, ', ')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Editable fields: ' || array_to_string(allowed, ', ') || '.';
    END IF;
    FOREACH k IN ARRAY lists LOOP
        IF changes ? k AND (jsonb_typeof(changes -> k) <> 'array' OR EXISTS (
               SELECT 1 FROM jsonb_array_elements(changes -> k) e WHERE jsonb_typeof(e) <> 'string')) THEN
            RAISE EXCEPTION '% must be an array of strings', k USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    IF changes ? 'data_dictionary' AND jsonb_typeof(changes -> 'data_dictionary') <> 'object' THEN
        RAISE EXCEPTION 'data_dictionary must be an object of "table.column": "meaning"'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        UPDATE mcp.llm_metadata m SET
            description = CASE WHEN changes ? 'description' THEN changes ->> 'description' ELSE m.description END,
            data_dictionary = CASE WHEN changes ? 'data_dictionary' THEN changes -> 'data_dictionary' ELSE m.data_dictionary END,
            quality_observations = CASE WHEN changes ? 'quality_observations'
                THEN ARRAY(SELECT jsonb_array_elements_text(changes -> 'quality_observations')) ELSE m.quality_observations END,
            improvement_suggestions = CASE WHEN changes ? 'improvement_suggestions'
                THEN ARRAY(SELECT jsonb_array_elements_text(changes -> 'improvement_suggestions')) ELSE m.improvement_suggestions END,
            recommended_use_cases = CASE WHEN changes ? 'recommended_use_cases'
                THEN ARRAY(SELECT jsonb_array_elements_text(changes -> 'recommended_use_cases')) ELSE m.recommended_use_cases END,
            data_category = CASE WHEN changes ? 'data_category' THEN changes ->> 'data_category' ELSE m.data_category END,
            date_range_start = CASE WHEN changes ? 'date_range_start' THEN (changes ->> 'date_range_start')::date ELSE m.date_range_start END,
            date_range_end = CASE WHEN changes ? 'date_range_end' THEN (changes ->> 'date_range_end')::date ELSE m.date_range_end END,
            user_notes = CASE WHEN changes ? 'user_notes' THEN changes ->> 'user_notes' ELSE m.user_notes END,
            user_edited = m.user_edited OR EXISTS (SELECT 1 FROM jsonb_object_keys(changes) c WHERE c <> 'user_notes'),
            updated_at = now()
         WHERE m.dataset_id = update_metadata.dataset_id;
    EXCEPTION
        WHEN invalid_datetime_format OR datetime_field_overflow THEN
            RAISE EXCEPTION 'dates in changes must be "YYYY-MM-DD": %', SQLERRM
                USING ERRCODE = 'invalid_parameter_value';
    END;
    RETURN mcp.get_metadata(dataset_id);
END
$$;
COMMENT ON FUNCTION mcp.update_metadata(integer, jsonb) IS
'Edits a dataset''s metadata from a JSON object (description, data_dictionary, quality_observations, improvement_suggestions, recommended_use_cases, data_category, date_range_start, date_range_end, user_notes); marks it user_edited, keeps the generated version for a diff, and returns mcp.get_metadata.';

CREATE FUNCTION mcp.approve_dataset(dataset_id integer, approver text DEFAULT session_user)
RETURNS mcp.dataset_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d  mcp.datasets := mcp._dataset_row(dataset_id);
    m  mcp.llm_metadata;
BEGIN
    IF d.status <> 'metadata_pending' THEN
        RAISE EXCEPTION 'dataset % cannot be approved from status %', dataset_id, d.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Only a dataset whose metadata waits for review (metadata_pending) can be approved.',
                  HINT = CASE d.status
                      WHEN 'draft' THEN 'Profile it first: SELECT mcp.reprofile_dataset(' || dataset_id || ').'
                      WHEN 'profiling' THEN 'Wait for profiling and metadata: SELECT * FROM mcp.jobs_status(' || dataset_id || ').'
                      WHEN 'inactive' THEN 'Send it back to review with SELECT mcp.reprofile_dataset(' || dataset_id || ').'
                      ELSE 'It is already approved.' END;
    END IF;
    IF approver IS NULL OR btrim(approver) = '' THEN
        RAISE EXCEPTION 'approver must name who approves' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    m := mcp._metadata_row(dataset_id);
    UPDATE mcp.llm_metadata x SET user_approved = true, updated_at = now() WHERE x.id = m.id;
    UPDATE mcp.datasets x SET
        status = 'approved', approved_by = approver, approved_at = now(), updated_at = now(),
        data_category = coalesce(m.data_category, x.data_category),
        use_cases = CASE WHEN cardinality(m.recommended_use_cases) > 0 THEN m.recommended_use_cases ELSE x.use_cases END,
        date_range_start = coalesce(x.date_range_start, m.date_range_start),
        date_range_end = coalesce(x.date_range_end, m.date_range_end)
     WHERE x.id = dataset_id;  -- the datasets trigger sends NOTIFY mcp_analytics
    RETURN mcp.dataset(dataset_id);
END
$$;
COMMENT ON FUNCTION mcp.approve_dataset(integer, text) IS
'Approves a dataset whose metadata was reviewed (only from metadata_pending): records approved_by (default the session user) and approved_at, takes category and use cases from the metadata, and makes it live for every MCP client (NOTIFY mcp_analytics).';

CREATE FUNCTION mcp.deactivate_dataset(dataset_id integer) RETURNS mcp.dataset_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d  mcp.datasets := mcp._dataset_row(dataset_id);
BEGIN
    PERFORM mcp.cancel_jobs(dataset_id);
    IF d.status <> 'inactive' THEN
        PERFORM mcp.set_dataset_status(dataset_id, 'inactive');
    END IF;
    RETURN mcp.dataset(dataset_id);
END
$$;
COMMENT ON FUNCTION mcp.deactivate_dataset(integer) IS
'Takes a dataset out of service (status inactive) from any status and cancels its queued and running jobs; MCP clients stop seeing it. Bring it back with mcp.reprofile_dataset.';

GRANT EXECUTE ON FUNCTION mcp.get_metadata(integer) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.update_metadata(integer, jsonb), mcp.approve_dataset(integer, text),
    mcp.deactivate_dataset(integer) TO mcp_admin;
