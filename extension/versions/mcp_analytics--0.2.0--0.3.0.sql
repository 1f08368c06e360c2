-- mcp_analytics 0.2.0 → 0.3.0. Assembled from the parts in this folder, in name order, one
-- part per concern; each mirrors what the matching part of extension/sql/ now creates, so a
-- 0.2.0 database updated with ALTER EXTENSION ends up with the same objects as a new 0.3.0
-- install (test/integration/extension_upgrade.t compares them, from 0.1.0 and from 0.2.0).
\echo Use "ALTER EXTENSION mcp_analytics UPDATE TO '0.3.0'" to load this file. \quit
-- The hot path (see 02_people_and_grants and 72_mcp_tools): the caller's key and the argument
-- check in C++, and mcp.call_tool calls the shipped tool handlers statically.
CREATE OR REPLACE FUNCTION mcp._caller_api_key() RETURNS integer
LANGUAGE c STABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_caller_api_key';
COMMENT ON FUNCTION mcp._caller_api_key() IS 'Internal: the mcp.api_keys id of the caller (setting mcp.caller, else mcp.request_context.api_key_id), NULL for a direct SQL call';
CREATE OR REPLACE FUNCTION mcp._argument_problem(schema jsonb, value jsonb, path text DEFAULT 'arguments')
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_argument_problem';
COMMENT ON FUNCTION mcp._argument_problem(jsonb, jsonb, text) IS 'Internal: the first way value breaks a (simple) JSON Schema, as a sentence, or NULL';
CREATE OR REPLACE FUNCTION mcp.call_tool(name text, arguments jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    tool     mcp.tools;
    args     jsonb := coalesce(arguments, '{}');
    caller   jsonb;
    problem  text;
    lacking  jsonb;
    answer   jsonb;
    message  text;
    detail   text;
    hint     text;
BEGIN
    SELECT * INTO tool FROM mcp.tools t WHERE t.name = call_tool.name;
    IF NOT FOUND OR NOT mcp._tool_available(tool) THEN
        RAISE EXCEPTION 'Unknown tool: %', coalesce(call_tool.name, 'NULL')
            USING ERRCODE = 'undefined_function',
                  HINT = 'tools/list (or SELECT name FROM mcp.mcp_tools()) names the tools.';
    END IF;
    problem := mcp._argument_problem(tool.input_schema, args);
    IF problem IS NOT NULL THEN
        RETURN mcp._tool_error(format('Invalid arguments for %s: %s.', tool.name, problem));
    END IF;
    caller := CASE WHEN jsonb_typeof(context) = 'object' THEN context ELSE '{}' END
              || jsonb_build_object('tool', tool.name);
    -- Whatever runs below, however deep, can attribute its work to the caller.
    PERFORM set_config('mcp.request_context', caller::text, true);
    -- An OAuth connection runs only the tools its scopes allow; _meta tells the bridge to
    -- answer 403 insufficient_scope so the client can ask for more (step-up).
    lacking := mcp._missing_tool_scope(tool.name);
    IF lacking IS NOT NULL THEN
        RETURN mcp._tool_error(lacking ->> 'message')
            || jsonb_build_object('_meta', jsonb_build_object('mcp-analytics/insufficient_scope', lacking ->> 'scope'));
    END IF;
    BEGIN
        -- The shipped handlers are called statically: PL/pgSQL keeps those plans for the
        -- session, where EXECUTE parses and plans on every call. Tools added later by INSERT
        -- (any handler) take the dynamic path.
        IF tool.handler = 'mcp._tool_execute_query' THEN
            answer := mcp._tool_execute_query(args, caller);
        ELSIF tool.handler = 'mcp._tool_weighted_query' THEN
            answer := mcp._tool_weighted_query(args, caller);
        ELSIF tool.handler = 'mcp._tool_execute_multi_query' THEN
            answer := mcp._tool_execute_multi_query(args, caller);
        ELSIF tool.handler = 'mcp._tool_list_datasets' THEN
            answer := mcp._tool_list_datasets(args, caller);
        ELSIF tool.handler = 'mcp._tool_describe_dataset' THEN
            answer := mcp._tool_describe_dataset(args, caller);
        ELSE
            EXECUTE format('SELECT %s($1, $2)', tool.handler) INTO answer USING args, caller;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
        RETURN mcp._tool_error('Error: ' || message
            || CASE WHEN coalesce(detail, '') <> '' THEN E'\nDetail: ' || detail ELSE '' END
            || CASE WHEN coalesce(hint, '') <> '' THEN E'\nHint: ' || hint ELSE '' END);
    END;
    RETURN jsonb_build_object(
        'content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', coalesce(answer ->> 'text', ''))),
        'structuredContent', coalesce(answer -> 'structured', '{}'),
        'isError', false);
END
$$;
COMMENT ON FUNCTION mcp.call_tool(text, jsonb, jsonb) IS
'Runs an MCP tool (tools/call) and returns its result: {content: [{type: text, text}], structuredContent, isError}. Bad arguments and failures are isError results that tell the model what to fix; an unknown tool is an error (SQLSTATE 42883). context {client_name, client_version, user_agent, session_id, api_key_id} reaches the query log, and is also readable as the transaction''s setting mcp.request_context.';
------------------------------------------------------------------------------------------
-- Dataset roles: a dataset may run each caller's queries as a database role of its own
-- server (SET LOCAL ROLE inside the read-only transaction), so the dataset's row-level
-- security decides which rows that person sees. A person, a group or an API key is mapped
-- to a role on one dataset; callers nobody mapped use the dataset's default role, else the
-- connection's own role, or are refused when the dataset requires a mapping. The profiler
-- and the LLM's metadata sampling always use the connection's own role.
--
-- On the dataset's server the roles must exist, be granted to the role the connection string
-- logs in as (GRANT <role> TO <connection user>), and carry the RLS policies.
------------------------------------------------------------------------------------------
CREATE TABLE mcp.dataset_role_mappings (
    id           integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    dataset_id   integer NOT NULL REFERENCES mcp.datasets (id) ON DELETE CASCADE,
    user_id      integer REFERENCES mcp.users (id) ON DELETE CASCADE,
    group_id     integer REFERENCES mcp.user_groups (id) ON DELETE CASCADE,
    api_key_id   integer REFERENCES mcp.api_keys (id) ON DELETE CASCADE,
    db_role      text NOT NULL CHECK (db_role ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'),
    created_by   text NOT NULL DEFAULT session_user,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dataset_role_mappings_one_principal CHECK (num_nonnulls(user_id, group_id, api_key_id) = 1)
);
CREATE UNIQUE INDEX dataset_role_mappings_user_idx ON mcp.dataset_role_mappings (dataset_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX dataset_role_mappings_group_idx ON mcp.dataset_role_mappings (dataset_id, group_id) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX dataset_role_mappings_key_idx ON mcp.dataset_role_mappings (dataset_id, api_key_id) WHERE api_key_id IS NOT NULL;
COMMENT ON TABLE mcp.dataset_role_mappings IS 'The database role (on the dataset''s own server) a person, group or API key queries a dataset as, so the dataset''s row-level security applies';

CREATE TABLE mcp.dataset_role_defaults (
    dataset_id        integer PRIMARY KEY REFERENCES mcp.datasets (id) ON DELETE CASCADE,
    default_role      text CHECK (default_role ~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$'),
    mapping_required  boolean NOT NULL DEFAULT false,
    updated_by        text NOT NULL DEFAULT session_user,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mcp.dataset_role_defaults IS 'Per dataset: the role of callers nobody mapped (NULL: the connection''s own role), or whether such callers are refused';
SELECT pg_catalog.pg_extension_config_dump('mcp.dataset_role_mappings', '');
SELECT pg_catalog.pg_extension_config_dump('mcp.dataset_role_mappings_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mcp.dataset_role_defaults', '');

CREATE FUNCTION mcp._checked_db_role(db_role text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF db_role IS NULL OR db_role !~ '^[A-Za-z_][A-Za-z0-9_$]{0,62}$' THEN
        RAISE EXCEPTION 'database role name % is not allowed', coalesce(quote_literal(left(db_role, 100)), 'NULL')
            USING ERRCODE = 'invalid_name',
                  HINT = 'A role name of the dataset''s server: a letter or _, then letters, digits, _ or $ (at most 63).';
    END IF;
    RETURN db_role;
END
$$;
COMMENT ON FUNCTION mcp._checked_db_role(text) IS 'Internal: the role name if it is a plain identifier (letters, digits, _ and $; at most 63), else an error';

CREATE FUNCTION mcp._existing_dataset(dataset_id integer) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mcp.datasets d WHERE d.id = _existing_dataset.dataset_id) THEN
        RAISE EXCEPTION 'dataset % does not exist', coalesce(dataset_id::text, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List the datasets with SELECT * FROM mcp.datasets().';
    END IF;
    RETURN dataset_id;
END
$$;
COMMENT ON FUNCTION mcp._existing_dataset(integer) IS 'Internal: the dataset id if the dataset exists, else an error';

CREATE FUNCTION mcp.map_dataset_role(dataset_id integer, db_role text, to_user text DEFAULT NULL,
                                     to_group text DEFAULT NULL, to_api_key text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dataset integer := mcp._existing_dataset(map_dataset_role.dataset_id);
    role    text := mcp._checked_db_role(map_dataset_role.db_role);
    who     record := mcp._grantee(to_user, to_group, to_api_key);
    changed boolean;
BEGIN
    UPDATE mcp.dataset_role_mappings m SET db_role = role, created_by = session_user, created_at = now()
     WHERE m.dataset_id = dataset
       AND (m.user_id = who.user_id OR m.group_id = who.group_id OR m.api_key_id = who.api_key_id)
       AND m.db_role IS DISTINCT FROM role;
    changed := FOUND;
    IF NOT changed AND NOT EXISTS (
           SELECT 1 FROM mcp.dataset_role_mappings m WHERE m.dataset_id = dataset
              AND (m.user_id = who.user_id OR m.group_id = who.group_id OR m.api_key_id = who.api_key_id)) THEN
        INSERT INTO mcp.dataset_role_mappings (dataset_id, user_id, group_id, api_key_id, db_role)
        VALUES (dataset, who.user_id, who.group_id, who.api_key_id, role);
        changed := true;
    END IF;
    RETURN changed;
END
$$;
COMMENT ON FUNCTION mcp.map_dataset_role(integer, text, text, text, text) IS
'Runs the queries of one person (to_user => login), group (to_group) or API key (to_api_key => name) on a dataset as db_role, a role of the dataset''s server (SET LOCAL ROLE in the read-only transaction), so its row-level security applies; false when it was mapped so already. The role must be granted to the connection''s user on that server. A person''s own mapping comes before their API key''s and their groups''.';

CREATE FUNCTION mcp.unmap_dataset_role(dataset_id integer, from_user text DEFAULT NULL,
                                       from_group text DEFAULT NULL, from_api_key text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    who record := mcp._grantee(from_user, from_group, from_api_key);
BEGIN
    DELETE FROM mcp.dataset_role_mappings m
     WHERE m.dataset_id = unmap_dataset_role.dataset_id
       AND (m.user_id = who.user_id OR m.group_id = who.group_id OR m.api_key_id = who.api_key_id);
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION mcp.unmap_dataset_role(integer, text, text, text) IS 'Takes back a mapping of mcp.map_dataset_role (from_user, from_group or from_api_key); false when there was none.';

CREATE FUNCTION mcp.set_dataset_role_defaults(dataset_id integer, default_role text DEFAULT NULL,
                                              mapping_required boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dataset integer := mcp._existing_dataset(set_dataset_role_defaults.dataset_id);
    role    text := CASE WHEN default_role IS NOT NULL THEN mcp._checked_db_role(default_role) END;
BEGIN
    IF mapping_required IS NULL THEN
        RAISE EXCEPTION 'mapping_required must be true or false' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF role IS NULL AND NOT mapping_required THEN
        DELETE FROM mcp.dataset_role_defaults r WHERE r.dataset_id = dataset;
    ELSE
        INSERT INTO mcp.dataset_role_defaults AS r (dataset_id, default_role, mapping_required)
        VALUES (dataset, role, set_dataset_role_defaults.mapping_required)
        ON CONFLICT ON CONSTRAINT dataset_role_defaults_pkey DO UPDATE
           SET default_role = EXCLUDED.default_role, mapping_required = EXCLUDED.mapping_required,
               updated_by = session_user, updated_at = now();
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.set_dataset_role_defaults(integer, text, boolean) IS
'What a dataset does with callers that no mapping names: run their queries as default_role (a role of the dataset''s server), or, without one, as the connection''s own role, unless mapping_required refuses them. Direct SQL calls without a caller always use the connection''s own role.';

CREATE FUNCTION mcp.dataset_role_mappings(dataset_id integer DEFAULT NULL)
RETURNS TABLE (dataset_id integer, dataset_name text, mapped_kind text, mapped_name text, db_role text,
               created_by text, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT m.dataset_id, d.name,
           CASE WHEN m.user_id IS NOT NULL THEN 'user' WHEN m.group_id IS NOT NULL THEN 'group' ELSE 'api_key' END,
           coalesce(u.login, g.name, k.name), m.db_role, m.created_by, m.created_at
      FROM mcp.dataset_role_mappings m
      JOIN mcp.datasets d ON d.id = m.dataset_id
      LEFT JOIN mcp.users u ON u.id = m.user_id
      LEFT JOIN mcp.user_groups g ON g.id = m.group_id
      LEFT JOIN mcp.api_keys k ON k.id = m.api_key_id
     WHERE dataset_role_mappings.dataset_id IS NULL OR m.dataset_id = dataset_role_mappings.dataset_id
    UNION ALL
    SELECT r.dataset_id, d.name, CASE WHEN r.mapping_required AND r.default_role IS NULL THEN 'unmapped_refused' ELSE 'default' END,
           NULL, r.default_role, r.updated_by, r.updated_at
      FROM mcp.dataset_role_defaults r JOIN mcp.datasets d ON d.id = r.dataset_id
     WHERE dataset_role_mappings.dataset_id IS NULL OR r.dataset_id = dataset_role_mappings.dataset_id
     ORDER BY 1, 3, 4
$$;
COMMENT ON FUNCTION mcp.dataset_role_mappings(integer) IS 'Lists the role mappings (of one dataset, or all): kind (user, group, api_key; default for the role of unmapped callers, unmapped_refused when they are refused), name and database role.';

-- The role the caller's queries of a dataset run as (NULL: the connection's own), or why
-- the caller is refused. Read with the dataset on every query, so it stays cheap when the
-- dataset has no mapping.
CREATE FUNCTION mcp._dataset_role(dataset_id integer, api_key_id integer DEFAULT mcp._caller_api_key(),
                                  OUT db_role text, OUT refusal text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    defaults  mcp.dataset_role_defaults;
    caller    mcp.api_keys;
    by_groups text[];
BEGIN
    IF api_key_id IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO defaults FROM mcp.dataset_role_defaults r WHERE r.dataset_id = _dataset_role.dataset_id;
    IF defaults.dataset_id IS NULL
       AND NOT EXISTS (SELECT 1 FROM mcp.dataset_role_mappings m WHERE m.dataset_id = _dataset_role.dataset_id) THEN
        RETURN;
    END IF;
    SELECT * INTO caller FROM mcp.api_keys k WHERE k.id = _dataset_role.api_key_id;
    SELECT m.db_role INTO db_role FROM mcp.dataset_role_mappings m
     WHERE m.dataset_id = _dataset_role.dataset_id AND m.user_id = caller.user_id;
    IF db_role IS NULL THEN
        SELECT m.db_role INTO db_role FROM mcp.dataset_role_mappings m
         WHERE m.dataset_id = _dataset_role.dataset_id AND m.api_key_id = caller.id;
    END IF;
    IF db_role IS NULL THEN
        by_groups := ARRAY(SELECT DISTINCT m.db_role FROM mcp.dataset_role_mappings m
                             JOIN mcp.group_members gm ON gm.group_id = m.group_id
                            WHERE m.dataset_id = _dataset_role.dataset_id AND gm.user_id = caller.user_id
                            ORDER BY 1);
        IF cardinality(by_groups) > 1 THEN
            refusal := format('the groups of this caller map to several database roles on dataset %s (%s), so none is chosen',
                              _dataset_role.dataset_id, array_to_string(by_groups, ', '));
            RETURN;
        END IF;
        db_role := coalesce(by_groups[1], defaults.default_role);
    END IF;
    IF db_role IS NULL AND defaults.mapping_required THEN
        refusal := format('dataset %s runs queries only as a mapped database role, and no mapping names this caller',
                          _dataset_role.dataset_id);
    END IF;
END
$$;
COMMENT ON FUNCTION mcp._dataset_role(integer, integer) IS
'Internal: the database role the caller queries a dataset as (their own mapping, else their API key''s, else their groups'', else the dataset''s default; NULL: the connection''s own role), or refusal when none applies and the dataset requires one, or the groups disagree';

GRANT EXECUTE ON FUNCTION mcp._dataset_role(integer, integer) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.map_dataset_role(integer, text, text, text, text),
    mcp.unmap_dataset_role(integer, text, text, text), mcp.set_dataset_role_defaults(integer, text, boolean),
    mcp.dataset_role_mappings(integer)
TO mcp_admin;
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
-- Client ID Metadata Documents (the new objects are in part 42, a link to the install part
-- 77_oauth_client_metadata.sql): OAuth clients may be described by the document at their
-- client_id URL, and the OAuth functions that look a client up resolve such a URL.
ALTER TABLE mcp.oauth_clients DROP CONSTRAINT oauth_clients_client_id_check,
    ADD CONSTRAINT oauth_clients_client_id_check CHECK (length(client_id) BETWEEN 1 AND 2000);
ALTER TABLE mcp.oauth_clients DROP CONSTRAINT oauth_clients_registration_check,
    ADD CONSTRAINT oauth_clients_registration_check CHECK (registration IN ('admin', 'dynamic', 'metadata_document'));
ALTER TABLE mcp.oauth_clients ADD COLUMN document_fetched_at timestamptz,
    ADD COLUMN document_expires_at timestamptz;
COMMENT ON TABLE mcp.oauth_clients IS 'OAuth clients: registered by an admin, dynamically (RFC 7591), or described by the client metadata document at their client_id URL; a confidential client''s secret is kept as a SHA-256 hash';
COMMENT ON COLUMN mcp.oauth_clients.document_expires_at IS 'For a client metadata document: until when the stored copy is used (its Cache-Control max-age, 1 min to 1 day); then it is fetched again';

CREATE OR REPLACE FUNCTION mcp._oauth_client_host(client mcp.oauth_clients) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN client.registration = 'metadata_document'
                THEN substring(client.client_id FROM '^https://([^/?#]+)') END
$$;
COMMENT ON FUNCTION mcp._oauth_client_host(mcp.oauth_clients) IS 'Internal: the host of a client metadata document client''s client_id URL (shown on the sign-in and consent pages), NULL for other clients';

CREATE OR REPLACE FUNCTION mcp.oauth_clients()
RETURNS TABLE (client_id text, client_name text, registration text, redirect_uris text[],
               confidential boolean, disabled boolean, people integer, created_at timestamptz,
               last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.client_id, c.client_name, c.registration, c.redirect_uris,
           c.token_endpoint_auth_method <> 'none', c.disabled,
           (SELECT count(*)::integer FROM mcp.api_keys k WHERE k.oauth_client_id = c.id AND k.revoked_at IS NULL),
           c.created_at, c.last_used_at
      FROM mcp.oauth_clients c ORDER BY c.id
$$;
COMMENT ON FUNCTION mcp.oauth_clients() IS 'Lists the OAuth clients, how each was registered (admin, dynamic, or metadata_document: client_id is the URL of its client metadata document), and how many people use it; never a secret.';

CREATE OR REPLACE FUNCTION mcp.oauth_server_metadata(issuer text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'issuer', issuer,
        'authorization_endpoint', issuer || '/authorize',
        'token_endpoint', issuer || '/token',
        'registration_endpoint', CASE WHEN (mcp.get_setting('oauth.dynamic_registration'))::boolean
                                      THEN issuer || '/register' END,
        'revocation_endpoint', issuer || '/revoke',
        'scopes_supported', to_jsonb(mcp.oauth_scopes()),
        'response_types_supported', jsonb_build_array('code'),
        'response_modes_supported', jsonb_build_array('query'),
        'grant_types_supported', jsonb_build_array('authorization_code', 'refresh_token'),
        'token_endpoint_auth_methods_supported', jsonb_build_array('none', 'client_secret_post', 'client_secret_basic'),
        'revocation_endpoint_auth_methods_supported', jsonb_build_array('none', 'client_secret_post', 'client_secret_basic'),
        'code_challenge_methods_supported', jsonb_build_array('S256'),
        'authorization_response_iss_parameter_supported', true,
        'client_id_metadata_document_supported', (mcp.get_setting('oauth.client_metadata_documents'))::boolean,
        'subject_types_supported', jsonb_build_array('public')))
$$;
COMMENT ON FUNCTION mcp.oauth_server_metadata(text) IS
'Authorization server metadata (RFC 8414, also served as OpenID discovery) for the given issuer URL: endpoints, scopes, PKCE S256 only, iss in the authorization response, client metadata documents (unless oauth.client_metadata_documents is off).';

CREATE OR REPLACE FUNCTION mcp.oauth_authorize(params jsonb, issuer text, resource text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p          jsonb := CASE WHEN jsonb_typeof(params) = 'object' THEN params ELSE '{}' END;
    resolved   record;
    client     mcp.oauth_clients;
    handle     text := mcp._oauth_secret('mcpar_');
    wanted     text;
    scopes     text[];
    fail       text;
    fail_text  text;
BEGIN
    SELECT * INTO resolved FROM mcp._oauth_client_for(p ->> 'client_id') r;
    client := resolved.client;
    IF client.id IS NULL AND p ->> 'client_id' ~* '^https?://' THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, NULL, NULL,
                                    left('client metadata document ' || (p ->> 'client_id') || ': ' || resolved.problem, 500));
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', format('This application''s client metadata document (%s) cannot be used: %s.',
                              left(p ->> 'client_id', 300), resolved.problem));
    ELSIF client.id IS NULL THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, NULL, NULL, 'unknown client');
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', 'This application is not registered with this server (unknown client_id). Remove the connector and add it again.');
    END IF;
    -- The redirect URI is compared exactly: no prefixes, no wildcards.
    IF NOT (coalesce(p ->> 'redirect_uri', '') = ANY (client.redirect_uris))
       AND NOT (p ->> 'redirect_uri' IS NULL AND cardinality(client.redirect_uris) = 1) THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, client.id, NULL, 'redirect_uri mismatch');
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', format('The redirect address this request names is not one %s registered, so sign-in cannot continue.', client.client_name));
    END IF;
    wanted := coalesce(p ->> 'redirect_uri', client.redirect_uris[1]);
    scopes := mcp._oauth_granted_scopes(p ->> 'scope', NULL);
    IF coalesce(p ->> 'response_type', '') <> 'code' THEN
        fail := 'unsupported_response_type'; fail_text := 'only response_type=code is supported';
    ELSIF coalesce(p ->> 'code_challenge', '') = '' THEN
        fail := 'invalid_request'; fail_text := 'PKCE is required: send code_challenge with code_challenge_method=S256';
    ELSIF coalesce(p ->> 'code_challenge_method', 'plain') <> 'S256' THEN
        fail := 'invalid_request'; fail_text := 'only the PKCE method S256 is accepted';
    ELSIF p ->> 'code_challenge' !~ '^[A-Za-z0-9_-]{43}$' THEN
        fail := 'invalid_request'; fail_text := 'code_challenge must be the base64url SHA-256 of the verifier (43 characters)';
    ELSIF coalesce(p ->> 'resource', resource) <> resource THEN
        fail := 'invalid_target'; fail_text := format('this server issues tokens for %s only', resource);
    ELSIF cardinality(scopes) = 0 THEN
        fail := 'invalid_scope'; fail_text := 'none of the requested scopes is offered: datasets:read, datasets:query, admin';
    ELSIF length(p ->> 'state') > 2000 THEN
        fail := 'invalid_request'; fail_text := 'state is too long';
    END IF;
    IF fail IS NOT NULL THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, client.id, NULL, fail || ': ' || fail_text);
        RETURN jsonb_build_object('action', 'redirect', 'location', mcp._url_with_params(wanted,
            'error', fail, 'error_description', fail_text, 'state', left(p ->> 'state', 2000), 'iss', issuer));
    END IF;
    DELETE FROM mcp.oauth_authorizations a WHERE a.expires_at < now() - interval '1 day';
    INSERT INTO mcp.oauth_authorizations (request_hash, client_id, redirect_uri, state, code_challenge,
                                          scopes, resource, expires_at)
    VALUES (mcp._oauth_hash(handle), client.id, wanted, p ->> 'state', p ->> 'code_challenge',
            scopes, resource, now() + interval '15 minutes');
    RETURN jsonb_build_object('action', 'sign_in', 'request', handle, 'client_name', client.client_name,
                              'client_registration', client.registration, 'client_host', mcp._oauth_client_host(client),
                              'scopes', to_jsonb(scopes), 'upstream', mcp._oidc_upstream_name());
END
$$;
COMMENT ON FUNCTION mcp.oauth_authorize(jsonb, text, text) IS
'GET /authorize: checks the request (known client, or the client metadata document its client_id URL serves; exact redirect URI, response_type code, PKCE S256, resource equal to this server''s, known scopes) and answers {action: sign_in, request handle, client_name, scopes}, or {action: redirect, location} carrying an OAuth error (with iss), or {action: error, message} when the redirect URI cannot be trusted.';

CREATE OR REPLACE FUNCTION mcp._oauth_signed_in(request text, pending mcp.oauth_authorizations, user_id integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    client   mcp.oauth_clients;
    person   mcp.users;
    handle   text := mcp._oauth_secret('mcpcn_');
    granted  text[];
BEGIN
    SELECT * INTO client FROM mcp.oauth_clients c WHERE c.id = pending.client_id;
    SELECT * INTO person FROM mcp.users u WHERE u.id = _oauth_signed_in.user_id;
    granted := mcp._oauth_granted_scopes(array_to_string(pending.scopes, ' '), person.role);
    UPDATE mcp.oauth_authorizations a SET user_id = person.id, consent_hash = mcp._oauth_hash(handle), scopes = granted
     WHERE a.id = pending.id;
    PERFORM mcp._log_auth_event('oauth_sign_in', true, person.login, person.id, client.id);
    RETURN jsonb_build_object('action', 'consent', 'request', request, 'consent', handle,
        'client_name', client.client_name, 'client_registration', client.registration,
        'client_host', mcp._oauth_client_host(client),
        'redirect_host', substring(pending.redirect_uri FROM '^[a-z]+://([^/?#]+)'),
        -- The consent page's form-action must allow the redirect that follows it.
        'redirect_origin', substring(pending.redirect_uri FROM '^[a-z]+://[^/?#]+'),
        'display_name', person.display_name, 'login', person.login, 'scopes', to_jsonb(granted),
        'datasets', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name) ORDER BY d.name)
                                FROM mcp.datasets d
                               WHERE d.status IN ('approved', 'active')
                                 AND (person.role = 'admin' OR EXISTS (
                                      SELECT 1 FROM mcp.dataset_grants g
                                       WHERE g.dataset_id = d.id
                                         AND (g.user_id = person.id OR g.group_id IN (
                                              SELECT m.group_id FROM mcp.group_members m WHERE m.user_id = person.id))))),
                             '[]'));
END
$$;
COMMENT ON FUNCTION mcp._oauth_signed_in(text, mcp.oauth_authorizations, integer) IS 'Internal: binds a signed-in person to a pending authorization and answers the consent page (client, scopes, the datasets the client will see)';

CREATE OR REPLACE FUNCTION mcp.oauth_sign_in(request text, login text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pending  mcp.oauth_authorizations := mcp._oauth_pending(request);
    client   mcp.oauth_clients;
    checked  record;
BEGIN
    IF pending.id IS NULL THEN
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', 'This sign-in page has expired or was already used. Start connecting again from your application.');
    END IF;
    SELECT * INTO client FROM mcp.oauth_clients c WHERE c.id = pending.client_id;
    SELECT * INTO checked FROM mcp._check_password_sign_in(login, password);
    IF checked.user_id IS NULL THEN
        RETURN jsonb_build_object('action', 'sign_in', 'request', request, 'client_name', client.client_name,
                                  'client_host', mcp._oauth_client_host(client),
                                  'scopes', to_jsonb(pending.scopes), 'error', checked.error,
                                  'upstream', mcp._oidc_upstream_name());
    END IF;
    RETURN mcp._oauth_signed_in(request, pending, checked.user_id);
END
$$;
COMMENT ON FUNCTION mcp.oauth_sign_in(text, text, text) IS
'POST /authorize, sign-in step: checks the login and password (with lockout) for a pending authorization and answers {action: consent, consent handle, client_name, display_name, scopes, datasets the person will see}, or {action: sign_in, error} to ask again.';

CREATE OR REPLACE FUNCTION mcp._oauth_client_auth(client_id text, client_secret text) RETURNS mcp.oauth_clients
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    resolved record;
    client mcp.oauth_clients;
BEGIN
    -- A metadata document client's copy is fetched again when it expired.
    SELECT * INTO resolved FROM mcp._oauth_client_for(_oauth_client_auth.client_id) r;
    client := resolved.client;
    IF client.id IS NULL OR (client.secret_hash IS NOT NULL AND client.secret_hash IS DISTINCT FROM mcp._oauth_hash(client_secret)) THEN
        RETURN NULL;
    END IF;
    IF client.last_used_at IS NULL OR client.last_used_at < now() - interval '1 minute' THEN
        UPDATE mcp.oauth_clients c SET last_used_at = now() WHERE c.id = client.id;
    END IF;
    RETURN client;
END
$$;
COMMENT ON FUNCTION mcp._oauth_client_auth(text, text) IS 'Internal: the client of a token or revocation request if it exists (registered, or from its metadata document URL), is enabled and (when confidential) gave its secret';
------------------------------------------------------------------------------------------
-- OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the
-- registration the MCP authorization specification recommends): a client whose client_id is
-- an https URL publishes its metadata (client_name, redirect_uris, ...) at that URL, and this
-- server fetches it at /authorize and /token instead of asking the client to register.
--
-- The fetch (mcp._client_metadata_fetch, in C) is https only, at most 5 KB, 5 s, no redirect,
-- JSON only, and refuses hosts on loopback, private or link-local addresses unless an admin
-- allows them. A valid document becomes a row of mcp.oauth_clients (registration
-- 'metadata_document', client_id = the URL) kept until its Cache-Control max-age ends (1 min
-- to 1 day; 1 h when it says nothing), so every bridge serves it, and an admin disables it
-- like any client (mcp.disable_oauth_client): a disabled one is never fetched again.
------------------------------------------------------------------------------------------
INSERT INTO mcp.setting_defaults (key, value, description) VALUES
 ('oauth.client_metadata_documents', 'true', 'Whether MCP clients may use the https URL of their Client ID Metadata Document as client_id (this server fetches the document)'),
 ('oauth.client_metadata_allow_private', 'false', 'For tests and closed networks only: fetch client metadata documents from hosts on loopback, private and link-local addresses too (refused by default: server-side request forgery)'),
 ('oauth.client_metadata_ca_file', '""', 'A CA bundle (a file on the database server) trusted for client metadata documents besides the system''s; empty: the system''s only');

CREATE FUNCTION mcp._client_metadata_fetch(url text, allow_private_addresses boolean, ca_file text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_client_metadata_fetch' LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp._client_metadata_fetch(text, boolean, text) IS 'Internal: GET a client metadata document (https, at most 5 KB, 5 s, no redirect, application/json, public addresses unless allowed) and answer {document, max_age}; an error says why not';

-- Why a client_id cannot be a metadata document URL (the draft's section 3), NULL when it can.
CREATE FUNCTION mcp._oauth_client_id_url_problem(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN url IS NULL OR url !~ '^https://' THEN 'the client_id URL must use https'
        WHEN length(url) > 2000 THEN 'the client_id URL is longer than 2000 characters'
        WHEN url ~ '[[:space:][:cntrl:]\\]' THEN 'the client_id URL contains spaces, control characters or backslashes'
        WHEN position('#' IN url) > 0 THEN 'the client_id URL must not have a fragment'
        WHEN url ~ '^https://[^/?]*@' THEN 'the client_id URL must not contain a user name or password'
        WHEN url !~ '^https://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?([/?]|$)' THEN 'the client_id URL has no valid host'
        WHEN url !~ '^https://[^/?]+/[^?]' THEN 'the client_id URL must have a path'
        WHEN substring(url FROM '^https://[^/?]+(/[^?]*)') ~* '/(\.|%2e){1,2}(/|$)'
            THEN 'the client_id URL must not contain . or .. path segments'
    END
$$;
COMMENT ON FUNCTION mcp._oauth_client_id_url_problem(text) IS 'Internal: why a URL cannot be a client_id metadata document URL (https, a path, no fragment, no credentials, no dot segments), NULL when it can';

-- Why a fetched document cannot describe the client at url (the draft's sections 4 and 8),
-- NULL when it can. Such clients are public: any client secret is refused.
CREATE FUNCTION mcp._oauth_client_metadata_problem(url text, document jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    IF document ->> 'client_id' IS DISTINCT FROM url OR jsonb_typeof(document -> 'client_id') <> 'string' THEN
        RETURN 'its client_id is not exactly the URL it was fetched from';
    END IF;
    IF document ? 'client_secret' OR document ? 'client_secret_expires_at' THEN
        RETURN 'it contains a client secret, which a metadata document must never publish';
    END IF;
    IF coalesce(document ->> 'token_endpoint_auth_method', 'none') <> 'none' THEN
        RETURN format('token_endpoint_auth_method %s is not offered: such clients are public (none)',
                      left(document ->> 'token_endpoint_auth_method', 60));
    END IF;
    IF jsonb_typeof(document -> 'redirect_uris') IS DISTINCT FROM 'array'
       OR jsonb_array_length(document -> 'redirect_uris') NOT BETWEEN 1 AND 20
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(document -> 'redirect_uris') e WHERE jsonb_typeof(e) <> 'string') THEN
        RETURN 'redirect_uris must be an array of 1 to 20 URIs';
    END IF;
    SELECT u INTO bad FROM jsonb_array_elements_text(document -> 'redirect_uris') u
     WHERE NOT mcp._oauth_redirect_uri_ok(u) LIMIT 1;
    IF FOUND THEN
        RETURN format('redirect URI %s is not allowed: use https, or http on localhost (no fragment)', left(bad, 200));
    END IF;
    IF document ? 'grant_types' AND (jsonb_typeof(document -> 'grant_types') <> 'array' OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(document -> 'grant_types') g
            WHERE g NOT IN ('"authorization_code"', '"refresh_token"'))) THEN
        RETURN 'only the grant types authorization_code and refresh_token are offered';
    END IF;
    IF document ? 'response_types' AND (jsonb_typeof(document -> 'response_types') <> 'array' OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(document -> 'response_types') r WHERE r <> '"code"')) THEN
        RETURN 'only the response type code is offered';
    END IF;
    IF document ? 'client_name' AND jsonb_typeof(document -> 'client_name') <> 'string' THEN
        RETURN 'client_name must be a string';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._oauth_client_metadata_problem(text, jsonb) IS 'Internal: why a client metadata document cannot be used for the client_id URL it was fetched from (client_id differs, a secret or a confidential auth method, bad redirect URIs, grant or response types), NULL when it can';

-- The client of a metadata document URL: the stored one while its document is fresh (or
-- when an admin disabled it), else the document fetched, checked and stored anew. problem
-- says why there is none.
CREATE FUNCTION mcp._oauth_metadata_client(url text, OUT client mcp.oauth_clients, OUT problem text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fetched   jsonb;
    document  jsonb;
    name      text;
    lifetime  integer;
    detail    text;
BEGIN
    SELECT * INTO client FROM mcp.oauth_clients c WHERE c.client_id = url;
    IF FOUND AND (client.registration <> 'metadata_document' OR client.disabled
                  OR client.document_expires_at > now()) THEN
        RETURN;
    END IF;
    client := NULL;
    IF NOT (mcp.get_setting('oauth.client_metadata_documents'))::boolean THEN
        problem := 'client metadata documents are turned off on this server';
        RETURN;
    END IF;
    problem := mcp._oauth_client_id_url_problem(url);
    IF problem IS NOT NULL THEN
        RETURN;
    END IF;
    BEGIN
        fetched := mcp._client_metadata_fetch(url,
            (mcp.get_setting('oauth.client_metadata_allow_private'))::boolean,
            nullif(mcp.get_setting('oauth.client_metadata_ca_file') #>> '{}', ''));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
        problem := regexp_replace(SQLERRM, '^client metadata document: ', '') || coalesce(' (' || nullif(detail, '') || ')', '');
        RETURN;
    END;
    document := fetched -> 'document';
    problem := mcp._oauth_client_metadata_problem(url, document);
    IF problem IS NOT NULL THEN
        RETURN;
    END IF;
    name := left(regexp_replace(coalesce(nullif(btrim(document ->> 'client_name'), ''),
                                         substring(url FROM '^https://([^/?]+)')),
                                '[[:cntrl:]]', ' ', 'g'), 200);
    lifetime := least(greatest(coalesce((fetched ->> 'max_age')::bigint, 3600), 60), 86400);
    INSERT INTO mcp.oauth_clients AS c (client_id, client_name, redirect_uris, registration, client_uri,
                                        software, created_by, document_fetched_at, document_expires_at)
    VALUES (url, name, ARRAY(SELECT jsonb_array_elements_text(document -> 'redirect_uris')), 'metadata_document',
            left(document ->> 'client_uri', 500),
            left(concat_ws(' ', document ->> 'software_id', document ->> 'software_version'), 200),
            'client metadata document', now(), now() + make_interval(secs => lifetime))
    ON CONFLICT (client_id) DO UPDATE
       SET client_name = EXCLUDED.client_name, redirect_uris = EXCLUDED.redirect_uris,
           client_uri = EXCLUDED.client_uri, software = EXCLUDED.software,
           document_fetched_at = EXCLUDED.document_fetched_at, document_expires_at = EXCLUDED.document_expires_at
     WHERE c.registration = 'metadata_document' AND NOT c.disabled
    RETURNING * INTO client;
    IF client.id IS NULL THEN
        -- Disabled by an admin (or registered otherwise) while this was being fetched.
        SELECT * INTO client FROM mcp.oauth_clients c WHERE c.client_id = url;
    END IF;
END
$$;
COMMENT ON FUNCTION mcp._oauth_metadata_client(text) IS 'Internal: the client of a client_id metadata document URL, from the stored copy while fresh, else fetched, checked and stored; problem says why there is none';

-- The client a client_id names at /authorize, /token and /revoke: a registered one, or one
-- of a metadata document URL. problem is set (client NULL) when there is none to use.
CREATE FUNCTION mcp._oauth_client_for(client_id text, OUT client mcp.oauth_clients, OUT problem text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    resolved record;
BEGIN
    IF client_id ~* '^https?://' THEN
        SELECT * INTO resolved FROM mcp._oauth_metadata_client(client_id) m;
        client := resolved.client;
        problem := resolved.problem;
    ELSE
        SELECT * INTO client FROM mcp.oauth_clients c WHERE c.client_id = _oauth_client_for.client_id;
    END IF;
    IF problem IS NULL AND client.id IS NULL THEN
        problem := 'unknown client_id';
    ELSIF problem IS NULL AND client.disabled THEN
        problem := 'the client is disabled';
    END IF;
    IF problem IS NOT NULL THEN
        client := NULL;
    END IF;
END
$$;
COMMENT ON FUNCTION mcp._oauth_client_for(text) IS 'Internal: the enabled client a client_id names (registered, or resolved from its metadata document URL), or why there is none';
------------------------------------------------------------------------------------------
-- Dashboard pages for admins: people, who may use a dataset, OAuth clients. Each page is one
-- call that answers JSON; each action is one of the functions of parts 75 to 77 or one
-- below. All are granted to mcp_admin only: a reader's session is refused here by
-- PostgreSQL, whatever the bridge does. Never a password hash, secret or token leaves.
------------------------------------------------------------------------------------------

CREATE FUNCTION mcp.unlock_user(login text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(unlock_user.login);
BEGIN
    UPDATE mcp.users u SET failed_sign_ins = 0, locked_until = NULL, updated_at = now()
     WHERE u.id = target.id AND (u.failed_sign_ins > 0 OR u.locked_until IS NOT NULL);
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM mcp._log_auth_event('user_unlocked', true, target.login, target.id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.unlock_user(text) IS
'Lifts a person''s sign-in lockout and forgets their failed sign-ins (the password stays); false when there was nothing to lift.';

CREATE FUNCTION mcp.revoke_oauth_client_tokens(client_id text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target  integer;
    revoked integer;
BEGIN
    SELECT c.id INTO target FROM mcp.oauth_clients c WHERE c.client_id = revoke_oauth_client_tokens.client_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no OAuth client %', coalesce(quote_literal(left(revoke_oauth_client_tokens.client_id, 200)), 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List them with SELECT * FROM mcp.oauth_clients().';
    END IF;
    -- Expired tokens are left alone: they open nothing, and the count tells what was live.
    UPDATE mcp.oauth_tokens t SET revoked_at = now()
     WHERE t.client_id = target AND t.revoked_at IS NULL AND t.expires_at > now();
    GET DIAGNOSTICS revoked = ROW_COUNT;
    PERFORM mcp._log_auth_event('tokens_revoked', true, NULL, NULL, target, NULL,
                                format('%s tokens of the client revoked by an admin', revoked));
    RETURN revoked;
END
$$;
COMMENT ON FUNCTION mcp.revoke_oauth_client_tokens(text) IS
'Revokes every access and refresh token an OAuth client holds, for every person, at once on every bridge, and returns how many; the client stays registered and people connect again by signing in.';

CREATE FUNCTION mcp.enable_oauth_client(client_id text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE mcp.oauth_clients c SET disabled = false WHERE c.client_id = enable_oauth_client.client_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no OAuth client %', coalesce(quote_literal(left(enable_oauth_client.client_id, 200)), 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List them with SELECT * FROM mcp.oauth_clients().';
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.enable_oauth_client(text) IS
'Lets a disabled OAuth client in again; the tokens revoked when it was disabled stay revoked, so people sign in and consent anew.';

CREATE FUNCTION mcp.ui_people_page() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'people', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', u.id, 'login', u.login, 'display_name', u.display_name, 'role', u.role,
                       'disabled', u.disabled, 'has_password', u.password_hash IS NOT NULL,
                       'failed_sign_ins', u.failed_sign_ins,
                       'locked_until', CASE WHEN u.locked_until > now() THEN u.locked_until END,
                       'groups', to_jsonb(ARRAY(SELECT g.name FROM mcp.group_members m
                                                  JOIN mcp.user_groups g ON g.id = m.group_id
                                                 WHERE m.user_id = u.id ORDER BY g.name)),
                       'datasets', (SELECT count(DISTINCT gr.dataset_id) FROM mcp.dataset_grants gr
                                     WHERE gr.user_id = u.id
                                        OR gr.group_id IN (SELECT m.group_id FROM mcp.group_members m
                                                            WHERE m.user_id = u.id)),
                       'last_sign_in_at', u.last_sign_in_at, 'created_at', u.created_at)
                       ORDER BY u.login), '[]')
                     FROM mcp.users u),
        'groups', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'name', g.name,
                       'members', (SELECT count(*) FROM mcp.group_members m WHERE m.group_id = g.id))
                       ORDER BY g.name), '[]')
                     FROM mcp.user_groups g))
$$;
COMMENT ON FUNCTION mcp.ui_people_page() IS
'The dashboard''s people page: every person (login, name, role, disabled, whether they have a password, failed sign-ins and lockout, groups, number of datasets granted to them or their groups, last sign-in) and the groups with their member counts. Admins only; never a password hash.';

CREATE FUNCTION mcp.ui_person_page(user_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person mcp.users;
BEGIN
    SELECT * INTO person FROM mcp.users u WHERE u.id = ui_person_page.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no person with id %', coalesce(ui_person_page.user_id::text, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'The people page lists them.';
    END IF;
    RETURN jsonb_build_object(
        'person', jsonb_build_object(
            'id', person.id, 'login', person.login, 'display_name', person.display_name,
            'role', person.role, 'disabled', person.disabled,
            'has_password', person.password_hash IS NOT NULL,
            'failed_sign_ins', person.failed_sign_ins,
            'locked_until', CASE WHEN person.locked_until > now() THEN person.locked_until END,
            'last_sign_in_at', person.last_sign_in_at, 'created_at', person.created_at,
            'created_by', person.created_by,
            'groups', to_jsonb(ARRAY(SELECT g.name FROM mcp.group_members m
                                       JOIN mcp.user_groups g ON g.id = m.group_id
                                      WHERE m.user_id = person.id ORDER BY g.name))),
        -- What the person may use and why: granted to them, or to a group they are in.
        'datasets', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'id', d.id, 'name', d.name, 'status', d.status,
                         'direct', x.direct, 'via_groups', to_jsonb(x.via_groups))
                         ORDER BY d.name), '[]')
                       FROM (SELECT gr.dataset_id,
                                    coalesce(bool_or(gr.user_id = person.id), false) AS direct,
                                    array_remove(array_agg(DISTINCT g.name ORDER BY g.name), NULL) AS via_groups
                               FROM mcp.dataset_grants gr
                               LEFT JOIN mcp.user_groups g ON g.id = gr.group_id
                              WHERE gr.user_id = person.id
                                 OR gr.group_id IN (SELECT m.group_id FROM mcp.group_members m
                                                     WHERE m.user_id = person.id)
                              GROUP BY gr.dataset_id) x
                       JOIN mcp.datasets d ON d.id = x.dataset_id),
        'grantable', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name, 'status', d.status)
                                                ORDER BY d.name), '[]')
                        FROM mcp.datasets d
                       WHERE NOT EXISTS (SELECT 1 FROM mcp.dataset_grants gr
                                          WHERE gr.dataset_id = d.id AND gr.user_id = person.id)),
        'groups', (SELECT coalesce(jsonb_agg(g.name ORDER BY g.name), '[]') FROM mcp.user_groups g),
        'oauth', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'client_id', c.client_id, 'client_name', c.client_name,
                      'active_tokens', (SELECT count(*) FROM mcp.oauth_tokens t
                                         WHERE t.client_id = c.id AND t.user_id = person.id
                                           AND t.revoked_at IS NULL AND t.expires_at > now()),
                      'last_used_at', k.last_used_at, 'scopes', to_jsonb(k.scopes))
                      ORDER BY c.client_name, c.client_id), '[]')
                    FROM mcp.api_keys k JOIN mcp.oauth_clients c ON c.id = k.oauth_client_id
                   WHERE k.user_id = person.id AND k.kind = 'oauth'),
        'events', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'event', e.event, 'success', e.success, 'detail', e.detail,
                       'created_at', e.created_at) ORDER BY e.id DESC), '[]')
                     FROM (SELECT * FROM mcp.auth_events e WHERE e.user_id = person.id
                            ORDER BY e.id DESC LIMIT 10) e));
END
$$;
COMMENT ON FUNCTION mcp.ui_person_page(integer) IS
'One person''s dashboard page: the person (never the password hash), the datasets they may use and why (granted to them, or through which groups), the datasets not yet granted to them, all group names, their OAuth connections with active token counts, and their last ten sign-in events. Admins only.';

CREATE FUNCTION mcp.ui_dataset_access(dataset_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mcp.datasets d WHERE d.id = ui_dataset_access.dataset_id) THEN
        RAISE EXCEPTION 'dataset % does not exist', coalesce(ui_dataset_access.dataset_id::text, 'NULL')
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN jsonb_build_object(
        'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'kind', CASE WHEN g.user_id IS NOT NULL THEN 'user'
                                    WHEN g.group_id IS NOT NULL THEN 'group' ELSE 'api_key' END,
                       'grantee', coalesce(u.login, gr.name, k.name),
                       'person_id', u.id, 'display_name', u.display_name,
                       'inactive', coalesce(u.disabled, k.revoked_at IS NOT NULL, false),
                       'members', (SELECT count(*) FROM mcp.group_members m WHERE m.group_id = gr.id),
                       'granted_by', g.granted_by, 'granted_at', g.granted_at)
                       ORDER BY (g.user_id IS NULL), (g.group_id IS NULL), coalesce(u.login, gr.name, k.name)), '[]')
                     FROM mcp.dataset_grants g
                     LEFT JOIN mcp.users u ON u.id = g.user_id
                     LEFT JOIN mcp.user_groups gr ON gr.id = g.group_id
                     LEFT JOIN mcp.api_keys k ON k.id = g.api_key_id
                    WHERE g.dataset_id = ui_dataset_access.dataset_id),
        -- The choices of the add form: whoever has no grant of this dataset yet.
        'people', (SELECT coalesce(jsonb_agg(jsonb_build_object('login', u.login, 'display_name', u.display_name,
                                                              'role', u.role, 'disabled', u.disabled)
                                             ORDER BY u.login), '[]')
                     FROM mcp.users u
                    WHERE NOT EXISTS (SELECT 1 FROM mcp.dataset_grants g
                                       WHERE g.dataset_id = ui_dataset_access.dataset_id AND g.user_id = u.id)),
        'groups', (SELECT coalesce(jsonb_agg(gr.name ORDER BY gr.name), '[]')
                     FROM mcp.user_groups gr
                    WHERE NOT EXISTS (SELECT 1 FROM mcp.dataset_grants g
                                       WHERE g.dataset_id = ui_dataset_access.dataset_id AND g.group_id = gr.id)),
        'api_keys', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', k.name, 'role', k.role) ORDER BY k.name), '[]')
                       FROM mcp.api_keys k
                      WHERE k.kind = 'key' AND k.revoked_at IS NULL
                        AND (k.expires_at IS NULL OR k.expires_at > now())
                        AND NOT EXISTS (SELECT 1 FROM mcp.dataset_grants g
                                         WHERE g.dataset_id = ui_dataset_access.dataset_id AND g.api_key_id = k.id)),
        'api_keys_need_grants', (mcp.get_setting('access.api_keys_need_grants'))::boolean);
END
$$;
COMMENT ON FUNCTION mcp.ui_dataset_access(integer) IS
'Who may use a dataset, for its dashboard page: its grants (person, group or API key, by whom and when), the people, groups and live API keys not granted it yet (the choices of the add form), and whether reader API keys need grants (access.api_keys_need_grants). Admins see every dataset without a grant. Admins only.';

CREATE FUNCTION mcp.ui_oauth_clients_page() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'clients', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'client_id', c.client_id, 'client_name', c.client_name,
                        'registration', c.registration, 'redirect_uris', to_jsonb(c.redirect_uris),
                        'confidential', c.token_endpoint_auth_method <> 'none',
                        'disabled', c.disabled, 'software', c.software, 'client_uri', c.client_uri,
                        'created_by', c.created_by, 'created_at', c.created_at,
                        'last_used_at', c.last_used_at,
                        'people', (SELECT count(*) FROM mcp.api_keys k
                                    WHERE k.oauth_client_id = c.id AND k.revoked_at IS NULL),
                        'active_tokens', (SELECT count(*) FROM mcp.oauth_tokens t
                                           WHERE t.client_id = c.id AND t.revoked_at IS NULL
                                             AND t.expires_at > now()))
                        ORDER BY c.disabled, c.created_at DESC, c.id DESC), '[]')
                      FROM mcp.oauth_clients c),
        'dynamic_registration', (mcp.get_setting('oauth.dynamic_registration'))::boolean)
$$;
COMMENT ON FUNCTION mcp.ui_oauth_clients_page() IS
'The dashboard''s OAuth clients page: every client (name, how it was registered, redirect URIs, confidential or public, disabled, created, last used, people connected, active tokens; never a secret) and whether dynamic registration is on. Admins only.';

-- The people in the query log, for the log page's person filter: a reader person sees only
-- themselves, as in the log.
CREATE FUNCTION mcp.query_log_people(since interval DEFAULT '30 days')
RETURNS TABLE (login text, display_name text, calls bigint, last_call_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.login, u.display_name, x.calls, x.last_call_at
      FROM (SELECT l.user_id, count(*) AS calls, max(l.created_at) AS last_call_at
              FROM mcp.query_logs l
             WHERE l.user_id IS NOT NULL AND l.created_at >= now() - coalesce(since, interval '30 days')
               AND (mcp._log_viewer_user() IS NULL OR l.user_id = mcp._log_viewer_user())
             GROUP BY l.user_id) x
      JOIN mcp.users u ON u.id = x.user_id
     ORDER BY u.login
     LIMIT 500
$$;
COMMENT ON FUNCTION mcp.query_log_people(interval) IS
'The people whose queries are in the query log over the last `since` (default 30 days), with their call counts and last call: the choices of the dashboard''s person filter. A reader person sees only themselves.';

GRANT EXECUTE ON FUNCTION mcp.query_log_people(interval) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.unlock_user(text), mcp.revoke_oauth_client_tokens(text),
    mcp.enable_oauth_client(text), mcp.ui_people_page(), mcp.ui_person_page(integer),
    mcp.ui_dataset_access(integer), mcp.ui_oauth_clients_page()
TO mcp_admin;
-- The dashboard's admin pages (people, grants, OAuth clients; extension/sql/81_ui_people.sql,
-- brought in by the symlinked part before this one), and the changes they need elsewhere:
-- people cannot demote or disable themselves, people and grants record who made them (the
-- caller's login or key name), the log names the OAuth client and lists the people for the
-- log page's person filter.

CREATE FUNCTION mcp._caller_person() RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT k.user_id FROM mcp.api_keys k WHERE k.id = mcp._caller_api_key()
$$;
COMMENT ON FUNCTION mcp._caller_person() IS 'Internal: the person (mcp.users id) the caller acts as, NULL for an API key or a direct SQL call';

CREATE FUNCTION mcp._caller_name() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT coalesce(u.login, k.name) FROM mcp.api_keys k
                       LEFT JOIN mcp.users u ON u.id = k.user_id
                      WHERE k.id = mcp._caller_api_key()), session_user)
$$;
COMMENT ON FUNCTION mcp._caller_name() IS 'Internal: the caller''s name for created_by and granted_by (a person''s login, an API key''s name), the database role for a direct SQL call';

CREATE OR REPLACE FUNCTION mcp.create_user(login text, display_name text, role text DEFAULT 'reader',
                                password text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id      integer;
    clean_login text := lower(btrim(create_user.login));
BEGIN
    IF clean_login IS NULL OR clean_login !~ '^[a-z0-9][a-z0-9._@+-]{0,99}$' THEN
        RAISE EXCEPTION 'a login is 1 to 100 letters, digits or . _ @ + - (an e-mail address will do)'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got %s.', coalesce(quote_literal(create_user.login), 'NULL'));
    END IF;
    IF create_user.display_name IS NULL OR length(btrim(create_user.display_name)) NOT BETWEEN 1 AND 200
       OR create_user.display_name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'a display name has 1 to 200 printable characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF create_user.role IS NULL OR create_user.role NOT IN ('reader', 'admin') THEN
        RAISE EXCEPTION 'role must be reader or admin, not %', coalesce(quote_literal(create_user.role), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A reader queries the datasets granted to them; an admin sees and manages everything.';
    END IF;
    IF EXISTS (SELECT 1 FROM mcp.users u WHERE u.login = clean_login) THEN
        RAISE EXCEPTION 'a user with login "%" already exists', clean_login
            USING ERRCODE = 'unique_violation', HINT = 'Change it with mcp.set_password or mcp.set_user_role.';
    END IF;
    INSERT INTO mcp.users (login, display_name, role, password_hash, created_by)
    VALUES (clean_login, btrim(create_user.display_name), create_user.role,
            mcp._checked_password_hash(create_user.password), mcp._caller_name())
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION mcp.create_user(text, text, text, text) IS
'Creates a person (login, display name, role reader or admin, optional password of at least 10 characters, stored as an scrypt hash) and returns their id. Without a password the person signs in only through the upstream OpenID provider. A reader sees the datasets granted with mcp.grant_dataset; an admin sees all.';

CREATE OR REPLACE FUNCTION mcp.set_user_role(login text, role text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(set_user_role.login);
BEGIN
    IF set_user_role.role IS NULL OR set_user_role.role NOT IN ('reader', 'admin') THEN
        RAISE EXCEPTION 'role must be reader or admin, not %', coalesce(quote_literal(set_user_role.role), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- An admin signed in as a person cannot lock themselves out of administration.
    IF set_user_role.role = 'reader' AND target.id = mcp._caller_person() THEN
        RAISE EXCEPTION 'you cannot take away your own admin role'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Another admin can.';
    END IF;
    UPDATE mcp.users u SET role = set_user_role.role, updated_at = now() WHERE u.id = target.id;
    -- Dashboard sessions carry the role of their sign-in; OAuth connections are downgraded
    -- at once and upgraded only by a new consent.
    UPDATE mcp.api_keys k SET role = set_user_role.role WHERE k.user_id = target.id AND k.kind = 'user';
    IF set_user_role.role = 'reader' THEN
        UPDATE mcp.api_keys k SET role = 'reader' WHERE k.user_id = target.id AND k.kind = 'oauth';
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.set_user_role(text, text) IS 'Makes a person a reader or an admin, on every bridge at once; a person cannot take away their own admin role.';

CREATE OR REPLACE FUNCTION mcp.disable_user(login text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(disable_user.login);
BEGIN
    IF target.id = mcp._caller_person() THEN
        RAISE EXCEPTION 'you cannot disable your own account'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Another admin can.';
    END IF;
    UPDATE mcp.users u SET disabled = true, updated_at = now() WHERE u.id = target.id;
    -- Revoking the person's rows ends their sessions and tokens on every bridge at once.
    UPDATE mcp.api_keys k SET revoked_at = coalesce(k.revoked_at, now()) WHERE k.user_id = target.id;
    DELETE FROM mcp.ui_sessions s USING mcp.api_keys k WHERE s.api_key_id = k.id AND k.user_id = target.id;
    DELETE FROM mcp.mcp_sessions s USING mcp.api_keys k WHERE s.api_key_id = k.id AND k.user_id = target.id;
    PERFORM mcp._log_auth_event('user_disabled', true, target.login, target.id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.disable_user(text) IS
'Disables a person: no more sign-in, and their dashboard sessions, MCP sessions and OAuth tokens stop working at once. The row stays, for the query log. A person cannot disable themselves.';

CREATE OR REPLACE FUNCTION mcp.grant_dataset(dataset_id integer, to_user text DEFAULT NULL,
                                  to_group text DEFAULT NULL, to_api_key text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    who record := mcp._grantee(to_user, to_group, to_api_key);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mcp.datasets d WHERE d.id = grant_dataset.dataset_id) THEN
        RAISE EXCEPTION 'dataset % does not exist', coalesce(grant_dataset.dataset_id::text, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List the datasets with SELECT * FROM mcp.datasets().';
    END IF;
    IF EXISTS (SELECT 1 FROM mcp.dataset_grants g
                WHERE g.dataset_id = grant_dataset.dataset_id
                  AND (g.user_id = who.user_id OR g.group_id = who.group_id OR g.api_key_id = who.api_key_id)) THEN
        RETURN false;
    END IF;
    INSERT INTO mcp.dataset_grants (dataset_id, user_id, group_id, api_key_id, granted_by)
    VALUES (grant_dataset.dataset_id, who.user_id, who.group_id, who.api_key_id, mcp._caller_name());
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.grant_dataset(integer, text, text, text) IS
'Lets one person (to_user => login), group (to_group) or API key (to_api_key => name) see and query a dataset; false when it was granted already. Admins need no grants.';

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

CREATE OR REPLACE FUNCTION mcp.ui_logs_page(filters jsonb DEFAULT '{}') RETURNS jsonb
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
------------------------------------------------------------------------------------------
-- Privileges: PUBLIC gets nothing. Each part grants its own functions to mcp_reader and
-- mcp_admin; this last part takes away what PostgreSQL gives PUBLIC by default.
------------------------------------------------------------------------------------------
REVOKE ALL ON ALL TABLES IN SCHEMA mcp FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA mcp FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mcp FROM PUBLIC;
