-- The metadata schema: tables, keys, constraints and indexes the registry relies on.
BEGIN;
SELECT plan(39);

SELECT has_schema('mcp');
SELECT is((SELECT count(*)::integer FROM unnest(ARRAY['datasets', 'dataset_schemas', 'llm_metadata', 'query_logs',
    'context_cache', 'jobs', 'api_keys', 'settings', 'setting_defaults', 'status_transitions', 'query_cache']) AS t
    WHERE to_regclass('mcp.' || t) IS NOT NULL), 11, 'the registry tables exist');

SELECT col_is_pk('mcp', 'datasets', 'id', 'datasets are keyed by id');
SELECT col_is_unique('mcp', 'datasets', 'name', 'dataset names are unique');
SELECT col_type_is('mcp', 'datasets', 'connection_ciphertext', 'bytea', 'the connection string is stored only as ciphertext');
SELECT hasnt_column('mcp', 'datasets', 'connection_string', 'no plaintext connection column');
SELECT col_type_is('mcp', 'datasets', 'use_cases', 'text[]', 'use_cases is a text array');
SELECT col_type_is('mcp', 'datasets', 'estimated_row_count', 'bigint', 'estimated_row_count is bigint');
SELECT col_type_is('mcp', 'datasets', 'created_at', 'timestamp with time zone', 'timestamps carry a time zone');
SELECT col_not_null('mcp', 'datasets', 'status', 'status is never null');
SELECT col_default_is('mcp', 'datasets', 'status', 'draft', 'new datasets start as draft');
SELECT col_default_is('mcp', 'datasets', 'data_source', 'postgres', 'data_source defaults to postgres');

-- CHECK constraints reject bad values even from a superuser writing the table directly.
PREPARE bad_dataset(text, text, text) AS
    INSERT INTO mcp.datasets (name, connection_ciphertext, connection_display, status, data_source, dataset_type)
    VALUES ('x', '\x01', 'u@h:1/d', $1, $2, $3);
SELECT throws_ok($$EXECUTE bad_dataset('published', 'postgres', NULL)$$, '23514', NULL, 'status outside the lifecycle is refused');
SELECT throws_ok($$EXECUTE bad_dataset('draft', 'oracle', NULL)$$, '23514', NULL, 'unknown data_source is refused');
SELECT throws_ok($$EXECUTE bad_dataset('draft', 'postgres', 'wide')$$, '23514', NULL, 'unknown dataset_type is refused');
SELECT lives_ok($$EXECUTE bad_dataset('draft', 'postgres', 'event_level')$$, 'a valid row is accepted');
SELECT throws_ok($$INSERT INTO mcp.datasets (name, connection_ciphertext, connection_display, date_range_start, date_range_end)
                   VALUES ('dates', '\x01', 'u@h:1/d', '2026-02-01', '2026-01-01')$$, '23514', NULL, 'a date range must not run backwards');
SELECT throws_ok($$INSERT INTO mcp.datasets (name, connection_ciphertext, connection_display, has_weight_column)
                   VALUES ('weights', '\x01', 'u@h:1/d', true)$$, '23514', NULL, 'has_weight_column needs the column name');
SELECT throws_ok($$INSERT INTO mcp.datasets (name, connection_ciphertext, connection_display) VALUES (' x', '\x01', 'u@h:1/d')$$,
                 '23514', NULL, 'names with surrounding spaces are refused');

SELECT col_is_fk('mcp', 'dataset_schemas', 'dataset_id', 'table profiles belong to a dataset');
SELECT has_index('mcp', 'dataset_schemas', 'dataset_schemas_dataset_id_schema_name_table_name_key',
                 ARRAY['dataset_id', 'schema_name', 'table_name'], 'one profile per dataset and table');
SELECT col_type_is('mcp', 'dataset_schemas', 'columns', 'jsonb', 'columns are jsonb');
SELECT col_type_is('mcp', 'dataset_schemas', 'sample', 'jsonb', 'samples are jsonb');

SELECT col_is_unique('mcp', 'llm_metadata', 'dataset_id', 'one metadata record per dataset');
SELECT col_type_is('mcp', 'llm_metadata', 'quality_observations', 'text[]', 'quality notes are a list');
SELECT has_column('mcp', 'llm_metadata', 'generated', 'the generated version is kept beside edits');

-- The query log's indexes belong to each partition; new monthly ones copy the default's.
SELECT has_index('mcp', 'query_logs_default', 'query_logs_default_datasets_used_idx', 'query logs are indexed by dataset');
SELECT is((SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.oid = 'mcp.query_logs_default_datasets_used_idx'::regclass),
          'gin', 'the datasets_used index is GIN');
SELECT has_index('mcp', 'query_logs_default', 'query_logs_default_created_at_idx', 'query logs are indexed by time');
SELECT has_index('mcp', 'query_logs_default', 'query_logs_default_tool_used_idx', 'query logs are indexed by client tool');

SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'mcp.context_cache'::regclass), 'u',
          'the context cache is unlogged');
SELECT col_type_is('mcp', 'api_keys', 'secret_hash', 'bytea', 'API keys keep only a hash');
SELECT throws_ok($$INSERT INTO mcp.api_keys (name, role, key_prefix, secret_hash) VALUES ('k', 'owner', 'p', '\x00')$$,
                 '23514', NULL, 'API key roles are reader or admin');
SELECT has_index('mcp', 'jobs', 'jobs_queue_idx', 'queued jobs are indexed for the workers');
SELECT throws_ok($$INSERT INTO mcp.jobs (kind) VALUES ('mine_bitcoin')$$, '23514', NULL, 'unknown job kinds are refused');

-- Deleting a dataset removes its profile and metadata, not its query logs.
SELECT lives_ok($$
    WITH d AS (INSERT INTO mcp.datasets (name, connection_ciphertext, connection_display)
               VALUES ('cascade', '\x01', 'u@h:1/d') RETURNING id),
         s AS (INSERT INTO mcp.dataset_schemas (dataset_id, table_name) SELECT id, 't' FROM d),
         m AS (INSERT INTO mcp.llm_metadata (dataset_id) SELECT id FROM d)
    INSERT INTO mcp.query_logs (query_text, datasets_used) SELECT 'select 1', ARRAY[id] FROM d$$,
    'a dataset with profile, metadata and a log row');
SELECT lives_ok($$DELETE FROM mcp.datasets WHERE name = 'cascade'$$, 'deleting it works');
SELECT is((SELECT count(*) FROM mcp.dataset_schemas s LEFT JOIN mcp.datasets d ON d.id = s.dataset_id WHERE d.id IS NULL),
          0::bigint, 'no orphan table profiles');
SELECT is((SELECT count(*) FROM mcp.query_logs WHERE query_text = 'select 1'), 1::bigint, 'its query log stays');

SELECT * FROM finish();
ROLLBACK;
