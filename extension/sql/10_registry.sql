------------------------------------------------------------------------------------------
-- Lifecycle
------------------------------------------------------------------------------------------
CREATE TABLE mcp.status_transitions (
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
COMMENT ON TABLE mcp.status_transitions IS 'The dataset lifecycle: the only status changes mcp.set_dataset_status allows';
INSERT INTO mcp.status_transitions VALUES
 ('draft', 'profiling'), ('draft', 'inactive'),
 ('profiling', 'metadata_pending'), ('profiling', 'draft'), ('profiling', 'inactive'),
 ('metadata_pending', 'approved'), ('metadata_pending', 'profiling'), ('metadata_pending', 'inactive'),
 ('approved', 'active'), ('approved', 'profiling'), ('approved', 'inactive'),
 ('active', 'approved'), ('active', 'profiling'), ('active', 'inactive'),
 ('inactive', 'draft'), ('inactive', 'profiling'), ('inactive', 'metadata_pending');

-- Tell listeners (the bridge, for hot reload) what changed; no secrets in the payload.
CREATE FUNCTION mcp._notify_dataset_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    row_id  integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    status  text    := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.status END;
BEGIN
    PERFORM pg_notify('mcp_analytics', json_build_object(
        'event', lower(TG_OP), 'dataset_id', row_id, 'status', status)::text);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._notify_dataset_change() IS 'Trigger: NOTIFY mcp_analytics with {event, dataset_id, status} when a dataset changes';
CREATE TRIGGER datasets_notify AFTER INSERT OR UPDATE OR DELETE ON mcp.datasets
    FOR EACH ROW EXECUTE FUNCTION mcp._notify_dataset_change();

------------------------------------------------------------------------------------------
-- C++ functions (internal: called by the SQL functions below, never granted)
------------------------------------------------------------------------------------------
CREATE TYPE mcp.sealed_connection AS (
    ciphertext       bytea,
    display          text,
    server_version   text,
    readable_tables  bigint,
    warnings         text[]
);
COMMENT ON TYPE mcp.sealed_connection IS 'What mcp._seal_connection learns about a dataset while sealing its connection string';

CREATE FUNCTION mcp._seal_connection(dataset_name text, connection_string text)
RETURNS mcp.sealed_connection
AS 'MODULE_PATHNAME', 'mcp_seal_connection' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp._seal_connection(text, text) IS 'Internal: connects with libpq, reads the catalog as the dataset role, then encrypts the string with the configured key';

CREATE FUNCTION mcp._probe_connection(dataset_name text, ciphertext bytea) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_probe_connection' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp._probe_connection(text, bytea) IS 'Internal: decrypts a stored connection string, connects and reads the catalog; returns facts, never the string';

CREATE FUNCTION mcp._reseal_connection(ciphertext bytea, new_key_file text) RETURNS bytea
AS 'MODULE_PATHNAME', 'mcp_reseal_connection' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp._reseal_connection(bytea, text) IS 'Internal: decrypts with the configured key and encrypts with the key in new_key_file';

CREATE FUNCTION mcp.key_id(key_file text DEFAULT NULL) RETURNS text
AS 'MODULE_PATHNAME', 'mcp_key_id' LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION mcp.key_id(text) IS 'Id (a one-way hash) of the configured encryption key, or of the key in key_file; superuser only';

CREATE FUNCTION mcp.ciphertext_key_id(ciphertext bytea) RETURNS text
AS 'MODULE_PATHNAME', 'mcp_ciphertext_key_id' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mcp.ciphertext_key_id(bytea) IS 'Id of the key that sealed a stored connection string';

CREATE FUNCTION mcp._test_error_boundary(kind text) RETURNS text
AS 'MODULE_PATHNAME', 'mcp_test_error_boundary' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp._test_error_boundary(text) IS 'Self-test: raises a C++ exception, bad_alloc, an mcp error or a PostgreSQL error across the C++ boundary (kind), or reports live test objects; superuser only';

------------------------------------------------------------------------------------------
-- Registry
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._dataset_row(dataset_id integer) RETURNS mcp.datasets
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_row mcp.datasets;
BEGIN
    -- A dataset the caller may not see does not exist for them (mcp._may_use_dataset).
    SELECT * INTO found_row FROM mcp.datasets d WHERE d.id = dataset_id AND mcp._may_use_dataset(d.id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dataset % does not exist', dataset_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'List the registered datasets with SELECT * FROM mcp.datasets().';
    END IF;
    RETURN found_row;
END
$$;
COMMENT ON FUNCTION mcp._dataset_row(integer) IS 'Internal: the dataset row with that id, or a clear error';

CREATE FUNCTION mcp._check_data_source(data_source text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF data_source IS NULL OR data_source NOT IN ('postgres', 'fabric', 'custom') THEN
        RAISE EXCEPTION 'data_source must be postgres, fabric or custom, not %', coalesce(quote_literal(data_source), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Fabric and other engines are reached through a PostgreSQL foreign data wrapper; register that PostgreSQL database.';
    END IF;
END
$$;
COMMENT ON FUNCTION mcp._check_data_source(text) IS 'Internal: rejects an unknown data_source with the allowed values';

-- What callers may see of a dataset: everything but the ciphertext.
CREATE TYPE mcp.dataset_info AS (
    id                   integer,
    name                 text,
    description          text,
    status               text,
    data_source          text,
    dataset_type         text,
    connection           text,
    date_range_start     date,
    date_range_end       date,
    data_category        text,
    use_cases            text[],
    has_weight_column    boolean,
    weight_column_name   text,
    user_id_column_name  text,
    user_table_name      text,
    estimated_row_count  bigint,
    created_by           text,
    created_at           timestamptz,
    updated_at           timestamptz,
    approved_by          text,
    approved_at          timestamptz,
    last_profiled_at     timestamptz
);
COMMENT ON TYPE mcp.dataset_info IS 'A dataset as shown to callers: the connection masked as user@host:port/dbname, no secret';

CREATE FUNCTION mcp.datasets(status text DEFAULT NULL) RETURNS SETOF mcp.dataset_info
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.id, d.name, d.description, d.status, d.data_source, d.dataset_type,
           d.connection_display, d.date_range_start, d.date_range_end, d.data_category,
           d.use_cases, d.has_weight_column, d.weight_column_name, d.user_id_column_name,
           d.user_table_name, d.estimated_row_count, d.created_by, d.created_at, d.updated_at,
           d.approved_by, d.approved_at, d.last_profiled_at
      FROM mcp.datasets d
     WHERE (datasets.status IS NULL OR d.status = datasets.status) AND mcp._may_use_dataset(d.id)
     ORDER BY d.id
$$;
COMMENT ON FUNCTION mcp.datasets(text) IS
'Lists registered datasets, optionally only those with one status; connections are masked (user@host:port/dbname).';

CREATE FUNCTION mcp.dataset(dataset_id integer) RETURNS mcp.dataset_info
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    info mcp.dataset_info;
BEGIN
    PERFORM mcp._dataset_row(dataset_id);
    SELECT * INTO info FROM mcp.datasets() AS d WHERE d.id = dataset_id;
    RETURN info;
END
$$;
COMMENT ON FUNCTION mcp.dataset(integer) IS
'One dataset by id, connection masked; errors if it does not exist.';

CREATE FUNCTION mcp.register_dataset(name text, connection_string text,
                                     data_source text DEFAULT 'postgres',
                                     description text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    existing  integer;
    sealed    mcp.sealed_connection;
    new_id    integer;
    warning   text;
BEGIN
    IF register_dataset.name IS NULL OR connection_string IS NULL THEN
        RAISE EXCEPTION 'name and connection_string are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(register_dataset.name) NOT BETWEEN 1 AND 100
       OR register_dataset.name <> btrim(register_dataset.name)
       OR register_dataset.name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'dataset name must be 1 to 100 printable characters without surrounding spaces'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM mcp._check_data_source(register_dataset.data_source);
    SELECT d.id INTO existing FROM mcp.datasets d WHERE d.name = register_dataset.name;
    IF FOUND THEN
        RAISE EXCEPTION 'a dataset named "%" already exists', register_dataset.name
            USING ERRCODE = 'unique_violation',
                  DETAIL = format('It has id %s.', existing),
                  HINT = 'Choose another name, or change that dataset with mcp.update_dataset.';
    END IF;

    sealed := mcp._seal_connection(register_dataset.name, connection_string);
    FOREACH warning IN ARRAY coalesce(sealed.warnings, '{}') LOOP
        RAISE WARNING 'dataset "%": %', register_dataset.name, warning;
    END LOOP;

    INSERT INTO mcp.datasets (name, description, connection_ciphertext, connection_display,
                              data_source, status)
    VALUES (register_dataset.name, register_dataset.description, sealed.ciphertext,
            sealed.display, register_dataset.data_source, 'draft')
    RETURNING id INTO new_id;
    PERFORM mcp.profile_on_register(new_id);  -- queues profiling (40_profiler.sql)
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION mcp.register_dataset(text, text, text, text) IS
'Registers a dataset (status draft) and returns its id. The connection string (libpq keyword=value or postgresql:// URI) is checked by connecting and reading the catalog, then stored encrypted. Pass it as a bind parameter so it never appears in pg_stat_activity or the server log.';

CREATE FUNCTION mcp.update_dataset(dataset_id integer, changes jsonb) RETURNS mcp.dataset_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    allowed  constant text[] := ARRAY['name', 'description', 'connection_string', 'data_source',
        'dataset_type', 'date_range_start', 'date_range_end', 'data_category', 'use_cases',
        'has_weight_column', 'weight_column_name', 'user_id_column_name', 'user_table_name',
        'estimated_row_count'];
    current  mcp.datasets := mcp._dataset_row(dataset_id);
    unknown  text[];
    sealed   mcp.sealed_connection;
BEGIN
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        RAISE EXCEPTION 'changes must be a JSON object, e.g. {"description": "..."}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(k ORDER BY k) INTO unknown
      FROM jsonb_object_keys(changes) AS k WHERE k <> ALL (allowed);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown field(s) in changes: %', array_to_string(unknown, ', ')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Allowed fields: ' || array_to_string(allowed, ', ') || '. Use mcp.set_dataset_status for the status.';
    END IF;
    IF changes ? 'data_source' THEN
        PERFORM mcp._check_data_source(changes ->> 'data_source');
    END IF;
    IF changes ? 'connection_string' THEN
        IF jsonb_typeof(changes -> 'connection_string') <> 'string' THEN
            RAISE EXCEPTION 'connection_string must be a string' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        sealed := mcp._seal_connection(coalesce(changes ->> 'name', current.name),
                                       changes ->> 'connection_string');
    END IF;

    BEGIN
        UPDATE mcp.datasets d SET
            name = CASE WHEN changes ? 'name' THEN changes ->> 'name' ELSE d.name END,
            description = CASE WHEN changes ? 'description' THEN changes ->> 'description' ELSE d.description END,
            data_source = CASE WHEN changes ? 'data_source' THEN changes ->> 'data_source' ELSE d.data_source END,
            dataset_type = CASE WHEN changes ? 'dataset_type' THEN changes ->> 'dataset_type' ELSE d.dataset_type END,
            date_range_start = CASE WHEN changes ? 'date_range_start' THEN (changes ->> 'date_range_start')::date ELSE d.date_range_start END,
            date_range_end = CASE WHEN changes ? 'date_range_end' THEN (changes ->> 'date_range_end')::date ELSE d.date_range_end END,
            data_category = CASE WHEN changes ? 'data_category' THEN changes ->> 'data_category' ELSE d.data_category END,
            use_cases = CASE WHEN changes ? 'use_cases'
                             THEN coalesce(ARRAY(SELECT jsonb_array_elements_text(changes -> 'use_cases')), '{}')
                             ELSE d.use_cases END,
            has_weight_column = CASE WHEN changes ? 'has_weight_column' THEN (changes ->> 'has_weight_column')::boolean ELSE d.has_weight_column END,
            weight_column_name = CASE WHEN changes ? 'weight_column_name' THEN changes ->> 'weight_column_name' ELSE d.weight_column_name END,
            user_id_column_name = CASE WHEN changes ? 'user_id_column_name' THEN changes ->> 'user_id_column_name' ELSE d.user_id_column_name END,
            user_table_name = CASE WHEN changes ? 'user_table_name' THEN changes ->> 'user_table_name' ELSE d.user_table_name END,
            estimated_row_count = CASE WHEN changes ? 'estimated_row_count' THEN (changes ->> 'estimated_row_count')::bigint ELSE d.estimated_row_count END,
            connection_ciphertext = coalesce(sealed.ciphertext, d.connection_ciphertext),
            connection_display = coalesce(sealed.display, d.connection_display),
            credential_version = d.credential_version + CASE WHEN sealed.ciphertext IS NULL THEN 0 ELSE 1 END,
            updated_at = now()
        WHERE d.id = dataset_id;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'a dataset named "%" already exists', changes ->> 'name'
                USING ERRCODE = 'unique_violation', HINT = 'Choose another name.';
        WHEN check_violation OR not_null_violation THEN
            RAISE EXCEPTION 'invalid value in changes: %', SQLERRM
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'dataset_type is event_level, aggregated or mixed; date_range_start must not follow date_range_end; has_weight_column needs weight_column_name; name is 1 to 100 printable characters.';
        WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_text_representation
             OR numeric_value_out_of_range OR invalid_parameter_value THEN
            RAISE EXCEPTION 'a value in changes has the wrong type: %', SQLERRM
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Dates are "YYYY-MM-DD", has_weight_column is true or false, use_cases is an array of strings, estimated_row_count is an integer.';
    END;
    RETURN mcp.dataset(dataset_id);
END
$$;
COMMENT ON FUNCTION mcp.update_dataset(integer, jsonb) IS
'Changes a dataset''s fields from a JSON object ({"description": "...", "use_cases": [...], "connection_string": "..."}); a new connection string is validated and re-encrypted. Returns the dataset as mcp.dataset() shows it.';

CREATE FUNCTION mcp.set_dataset_status(dataset_id integer, status text) RETURNS mcp.dataset_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    current  mcp.datasets := mcp._dataset_row(dataset_id);
    allowed  text[];
BEGIN
    IF set_dataset_status.status IS NULL OR set_dataset_status.status NOT IN
       ('draft', 'profiling', 'metadata_pending', 'approved', 'active', 'inactive') THEN
        RAISE EXCEPTION 'unknown status %', coalesce(quote_literal(set_dataset_status.status), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Statuses: draft, profiling, metadata_pending, approved, active, inactive.';
    END IF;
    SELECT array_agg(to_status ORDER BY to_status) INTO allowed
      FROM mcp.status_transitions WHERE from_status = current.status;
    IF current.status = set_dataset_status.status THEN
        RETURN mcp.dataset(dataset_id);
    END IF;
    IF NOT set_dataset_status.status = ANY (allowed) THEN
        RAISE EXCEPTION 'dataset % cannot go from % to %', dataset_id, current.status, set_dataset_status.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('From %s the lifecycle allows: %s.', current.status, array_to_string(allowed, ', ')),
                  HINT = 'The lifecycle is draft → profiling → metadata_pending → approved → active; any state can go to inactive.';
    END IF;
    UPDATE mcp.datasets d SET
        status = set_dataset_status.status,
        approved_by = CASE WHEN set_dataset_status.status = 'approved' AND current.status = 'metadata_pending'
                           THEN session_user ELSE d.approved_by END,
        approved_at = CASE WHEN set_dataset_status.status = 'approved' AND current.status = 'metadata_pending'
                           THEN now() ELSE d.approved_at END,
        updated_at = now()
    WHERE d.id = dataset_id;
    RETURN mcp.dataset(dataset_id);
END
$$;
COMMENT ON FUNCTION mcp.set_dataset_status(integer, text) IS
'Moves a dataset along its lifecycle (see mcp.status_transitions); other moves are refused with the allowed ones. Returns the dataset as mcp.dataset() shows it.';

CREATE FUNCTION mcp.delete_dataset(dataset_id integer) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM mcp._dataset_row(dataset_id);
    DELETE FROM mcp.datasets d WHERE d.id = dataset_id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.delete_dataset(integer) IS
'Deletes a dataset with its profile and metadata (its query logs stay). Errors if it does not exist.';

CREATE FUNCTION mcp.test_connection(dataset_id integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    current  mcp.datasets := mcp._dataset_row(dataset_id);
    state    text;
    message  text;
    detail   text;
    hint     text;
BEGIN
    RETURN mcp._probe_connection(current.name, current.connection_ciphertext);
EXCEPTION
    WHEN connection_exception OR invalid_authorization_specification OR invalid_password
         OR invalid_catalog_name OR insufficient_privilege OR query_canceled THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
        RETURN jsonb_build_object('ok', false, 'sqlstate', state, 'error', message,
                                  'detail', nullif(detail, ''), 'hint', nullif(hint, ''),
                                  'connection', current.connection_display);
END
$$;
COMMENT ON FUNCTION mcp.test_connection(integer) IS
'Connects to a registered dataset now and reports {ok, connection, database, user, server_version, readable_tables, latency_ms, warnings}, or {ok: false, sqlstate, error, detail, hint} when the server cannot be reached or refuses us.';

CREATE FUNCTION mcp.check_connection(connection_string text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sealed   mcp.sealed_connection;
    state    text;
    message  text;
    detail   text;
    hint     text;
BEGIN
    sealed := mcp._seal_connection('(unregistered)', connection_string);
    RETURN jsonb_build_object('ok', true, 'connection', sealed.display,
                              'server_version', sealed.server_version,
                              'readable_tables', sealed.readable_tables,
                              'warnings', to_jsonb(coalesce(sealed.warnings, '{}')));
EXCEPTION
    WHEN connection_exception OR invalid_authorization_specification OR invalid_password
         OR invalid_catalog_name OR insufficient_privilege OR invalid_parameter_value
         OR query_canceled THEN
        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
        RETURN jsonb_build_object('ok', false, 'sqlstate', state, 'error', message,
                                  'detail', nullif(detail, ''), 'hint', nullif(hint, ''));
END
$$;
COMMENT ON FUNCTION mcp.check_connection(text) IS
'Tries a connection string without registering it (the "test connection" step of the add-dataset form): same checks and answer shape as mcp.test_connection.';

CREATE FUNCTION mcp.rotate_key(new_key_file text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old_id    text := mcp.key_id();
    new_id    text := mcp.key_id(new_key_file);
    rotated   integer;
BEGIN
    UPDATE mcp.datasets d
       SET connection_ciphertext = mcp._reseal_connection(d.connection_ciphertext, new_key_file),
           credential_version = d.credential_version + 1,
           updated_at = now()
     WHERE mcp.ciphertext_key_id(d.connection_ciphertext) <> new_id;
    GET DIAGNOSTICS rotated = ROW_COUNT;
    PERFORM set_config('mcp_analytics.key_file', new_key_file, false);
    RAISE NOTICE 're-encrypted % connection string(s) with key %', rotated, new_id
        USING HINT = format('Make it permanent for every session: ALTER SYSTEM SET mcp_analytics.key_file = %L; SELECT pg_reload_conf();', new_key_file);
    RETURN jsonb_build_object('rotated', rotated, 'old_key_id', old_id, 'new_key_id', new_id);
END
$$;
COMMENT ON FUNCTION mcp.rotate_key(text) IS
'Superuser only: re-encrypts every stored connection string with the key in new_key_file, in one transaction, and switches this session to it; then set mcp_analytics.key_file to that file (ALTER SYSTEM + reload) for all sessions.';

CREATE FUNCTION mcp.key_status() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'configured_key_id', mcp.key_id(),
        'datasets_by_key', coalesce((SELECT jsonb_object_agg(k, n) FROM (
            SELECT mcp.ciphertext_key_id(connection_ciphertext) AS k, count(*) AS n
              FROM mcp.datasets GROUP BY 1) AS per_key), '{}'::jsonb))
$$;
COMMENT ON FUNCTION mcp.key_status() IS
'Superuser only: the configured key id and how many connection strings each key sealed (all should match after a rotation).';

GRANT EXECUTE ON FUNCTION mcp.datasets(text), mcp.dataset(integer) TO mcp_reader;
GRANT EXECUTE ON FUNCTION
    mcp.register_dataset(text, text, text, text), mcp.update_dataset(integer, jsonb),
    mcp.set_dataset_status(integer, text), mcp.delete_dataset(integer),
    mcp.test_connection(integer), mcp.check_connection(text)
TO mcp_admin;
