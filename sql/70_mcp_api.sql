-- The SQL surface behind mcp-bridge: API keys, MCP sessions, the tool catalog and its
-- dispatch, resources, prompts, and the REST helpers, as a DBA sees them in psql.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- API keys: the secret is returned once and has a fixed shape; only its hash is stored.
SELECT mcp.create_api_key('regress reader', 'reader') AS reader_secret \gset
SELECT :'reader_secret' ~ '^mcp_[0-9a-f]{64}$' AS secret_shape;
SELECT name, role, status, key_prefix = left(:'reader_secret', 12) AS prefix_matches
  FROM mcp.api_keys() WHERE name = 'regress reader';
SELECT name, role FROM mcp.authenticate(:'reader_secret');
SELECT count(*) AS wrong_secret_matches FROM mcp.authenticate(:'reader_secret' || 'x');
SELECT mcp.create_api_key('regress reader', 'admin');            -- duplicate name
SELECT mcp.create_api_key('regress owner', 'owner');             -- unknown role
SELECT mcp.create_api_key('regress old', 'reader', now() - interval '1 day');  -- already expired

-- Sessions belong to the key that opened them.
SELECT api_key_id AS reader_id FROM mcp.authenticate(:'reader_secret') \gset
SELECT mcp.open_session(:reader_id, '2025-06-18', '{"name": "psql-client", "version": "9.9"}',
                        '{}', 'psql/15') AS session_id \gset
SELECT protocol_version, client_name, client_version, user_agent, log_level, initialized
  FROM mcp.resume_session(:'session_id', :reader_id);
SELECT count(*) AS seen_by_another_key FROM mcp.resume_session(:'session_id', :reader_id + 1000);
SELECT mcp.update_session(:'session_id', :reader_id, initialized => true, log_level => 'debug');
SELECT log_level, initialized FROM mcp.resume_session(:'session_id', :reader_id);
SELECT mcp.update_session(:'session_id', :reader_id, log_level => 'loud');
SELECT mcp.close_session(:'session_id', :reader_id) AS closed,
       mcp.close_session(:'session_id', :reader_id) AS closed_again;

-- Revoking a key ends its sessions and its authentication at once.
SELECT mcp.open_session(:reader_id, '2025-11-25') AS session_id \gset
SELECT mcp.revoke_api_key('regress reader');
SELECT count(*) AS still_authenticates FROM mcp.authenticate(:'reader_secret');
SELECT count(*) AS session_left FROM mcp.resume_session(:'session_id', :reader_id);
SELECT status FROM mcp.api_keys() WHERE name = 'regress reader';
SELECT mcp.revoke_api_key('no such key');

-- The tool catalog: every tool has a root-object input schema and explicit annotations.
SELECT name, title, input_schema ->> 'type' AS input_type, output_schema ->> 'type' AS output_type,
       annotations ->> 'readOnlyHint' AS read_only, annotations ->> 'destructiveHint' AS destructive,
       annotations ->> 'idempotentHint' AS idempotent, annotations ->> 'openWorldHint' AS open_world
  FROM mcp.mcp_tools();

-- Dispatch: an unknown tool is an error; bad arguments and failures are isError results
-- whose text tells the model what to fix.
SELECT mcp.call_tool('no_such_tool', '{}', '{}');
SELECT r -> 'isError' AS is_error, r -> 'content' -> 0 ->> 'text' AS text
  FROM mcp.call_tool('execute_query', '{"dataset_id": "one", "sql": "SELECT 1"}') r;
SELECT r -> 'isError' AS is_error, r -> 'content' -> 0 ->> 'text' AS text
  FROM mcp.call_tool('execute_query', '{"dataset_id": 1}') r;
SELECT r -> 'isError' AS is_error, r -> 'content' -> 0 ->> 'text' AS text
  FROM mcp.call_tool('execute_query', '{"dataset_id": 1, "sql": "SELECT 1", "rows": 5}') r;
SELECT r -> 'isError' AS is_error, r -> 'content' -> 0 ->> 'text' AS text
  FROM mcp.call_tool('execute_query', '{"dataset_id": 1, "sql": "SELECT 1", "format": "xml"}') r;
SELECT r -> 'isError' AS is_error, r -> 'content' -> 0 ->> 'text' AS text
  FROM mcp.call_tool('describe_dataset', '{"dataset_id": 2147483000}') r;
SELECT r -> 'isError' AS is_error, r -> 'content' -> 0 ->> 'text' AS text
  FROM mcp.call_tool('execute_multi_query', '{"queries": []}') r;
SELECT r -> 'isError' AS is_error, jsonb_typeof(r -> 'structuredContent' -> 'context') AS context,
       length(r -> 'content' -> 0 ->> 'text') > 0 AS has_text
  FROM mcp.call_tool('get_global_context') r;

-- Resources and templates; an unknown URI is SQLSTATE 42704 (the bridge's -32002).
SELECT uri, name, mime_type FROM mcp.mcp_resources() WHERE uri NOT LIKE 'mcp-analytics://datasets/%';
SELECT uri_template, name FROM mcp.mcp_resource_templates();
SELECT uri, mime_type, length(content) > 0 AS has_text FROM mcp.read_resource('mcp-analytics://context/global');
SELECT * FROM mcp.read_resource('mcp-analytics://datasets/2147483000/overview');
SELECT * FROM mcp.read_resource('file:///etc/passwd');

-- Prompts teach the house rules, taken from the editable settings.
SELECT name, title, jsonb_array_length(arguments) AS arguments FROM mcp.mcp_prompts();
SELECT position('weigh users, not events' IN mcp.get_prompt('house_rules') -> 'messages' -> 0 -> 'content' ->> 'text') > 0 AS has_weighting_rule,
       position('C1, C2, D1, D2, E1, E2, E3 → C/D/E' IN mcp.get_prompt('house_rules') -> 'messages' -> 0 -> 'content' ->> 'text') > 0 AS has_nccs_merge;
SELECT mcp.get_prompt('analyze_dataset', '{"question": "Who buys?"}');
SELECT mcp.get_prompt('analyze_dataset', '{"question": "Who buys?", "dataset_id": "x1"}');
SELECT mcp.get_prompt('no_such_prompt');

-- REST helpers validate what the bridge passes on from query strings and bodies.
SELECT mcp.api_datasets('published');
SELECT mcp.api_datasets(NULL, -1, 10);
SELECT mcp.api_dataset(2147483000);
SELECT mcp.api_register_dataset('{"name": "x"}');
SELECT mcp.api_register_dataset('{"name": "x", "connection_string": "host=nowhere", "colour": "red"}');
SELECT mcp.search_query_logs('{"colour": "red"}');
SELECT mcp.search_query_logs('{"success": "maybe"}');
SELECT mcp.search_query_logs('{"since": "last tuesday"}');
SELECT r ->> 'skip' AS skip, r ->> 'limit' AS lim, jsonb_typeof(r -> 'items') AS items
  FROM mcp.search_query_logs('{"since": "24h", "tool": "execute_query", "limit": "5"}') r;
