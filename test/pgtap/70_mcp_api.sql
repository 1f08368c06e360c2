-- What mcp-bridge relies on in the extension: API keys stored as hashes, sessions bound to
-- keys, the tool catalog and its dispatch (with the caller reaching the query log),
-- resources, prompts and the REST helpers, and who may call which.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(93);

-- API keys -------------------------------------------------------------------------------
SELECT mcp.create_api_key('tap admin', 'admin') AS admin_secret \gset
SELECT mcp.create_api_key('tap reader', 'reader') AS reader_secret \gset
SELECT api_key_id AS admin_id FROM mcp.authenticate(:'admin_secret') \gset
SELECT api_key_id AS reader_id FROM mcp.authenticate(:'reader_secret') \gset

SELECT is((SELECT secret_hash FROM mcp.api_keys WHERE name = 'tap admin'),
          sha256(convert_to(:'admin_secret', 'UTF8')), 'only the SHA-256 of the secret is stored');
SELECT is((SELECT count(*) FROM mcp.api_keys k, jsonb_each_text(to_jsonb(k)) AS f(key, value)
            WHERE position(:'admin_secret' IN f.value) > 0), 0::bigint,
          'no column holds the secret itself');
SELECT is((SELECT key_prefix FROM mcp.api_keys WHERE name = 'tap admin'), left(:'admin_secret', 12),
          'the prefix shown in listings is the first 12 characters');
SELECT isnt(:'admin_secret'::text, :'reader_secret'::text, 'every key gets its own secret');
SELECT results_eq($$SELECT name, role FROM mcp.authenticate('$$ || :'reader_secret' || $$')$$,
                  $$VALUES ('tap reader', 'reader')$$, 'a valid secret authenticates as its key and role');
SELECT isnt((SELECT last_used_at FROM mcp.api_keys WHERE name = 'tap reader'), NULL,
            'authentication records last_used_at');
SELECT is_empty($$SELECT * FROM mcp.authenticate(upper('$$ || :'reader_secret' || $$'))$$,
                'secrets are compared exactly (case matters)');
SELECT is_empty($$SELECT * FROM mcp.authenticate(NULL)$$, 'NULL authenticates nothing');
SELECT is_empty($$SELECT * FROM mcp.authenticate(repeat('x', 10000))$$, 'an oversized secret is refused before hashing');

SELECT mcp.create_api_key('tap expiring', 'reader', now() + interval '1 hour') AS expiring_secret \gset
SELECT isnt_empty($$SELECT * FROM mcp.authenticate('$$ || :'expiring_secret' || $$')$$, 'a key works until it expires');
UPDATE mcp.api_keys SET expires_at = now() - interval '1 second' WHERE name = 'tap expiring';
SELECT is_empty($$SELECT * FROM mcp.authenticate('$$ || :'expiring_secret' || $$')$$, 'an expired key is refused');
SELECT is((SELECT status FROM mcp.api_keys() WHERE name = 'tap expiring'), 'expired', 'and listed as expired');

SELECT mcp.create_api_key('tap revoked', 'admin') AS revoked_secret \gset
SELECT ok(mcp.revoke_api_key('tap revoked'), 'a key is revoked by name');
SELECT is_empty($$SELECT * FROM mcp.authenticate('$$ || :'revoked_secret' || $$')$$, 'a revoked key is refused');
SELECT throws_ok($$SELECT mcp.create_api_key('tap admin', 'reader')$$, '23505', NULL, 'key names are unique');
SELECT throws_ok($$SELECT mcp.create_api_key('', 'reader')$$, '22023', NULL, 'a key needs a name');
SELECT throws_ok($$SELECT mcp.create_api_key('tap x', 'superuser')$$, '22023', NULL, 'roles are reader and admin only');

-- Sessions -------------------------------------------------------------------------------
SELECT mcp.open_session(:reader_id, '2025-11-25', '{"name": "tap-client", "version": "1.2.3"}',
                        '{"roots": {}}', 'tap-agent/1') AS session_id \gset
SELECT matches(:'session_id'::text, '^[0-9a-f]{64}$', 'session ids are 64 random hex digits');
SELECT results_eq($$SELECT protocol_version, client_name, client_version, user_agent FROM mcp.resume_session('$$ || :'session_id' || $$', $$ || :reader_id || $$)$$,
                  $$VALUES ('2025-11-25', 'tap-client', '1.2.3', 'tap-agent/1')$$,
                  'a session remembers the negotiated version and the client');
SELECT is_empty($$SELECT * FROM mcp.resume_session('$$ || :'session_id' || $$', $$ || :admin_id || $$)$$,
                'another key cannot use the session');
UPDATE mcp.mcp_sessions SET last_seen_at = now() - interval '2 days' WHERE id = :'session_id';
SELECT is_empty($$SELECT * FROM mcp.resume_session('$$ || :'session_id' || $$', $$ || :reader_id || $$)$$,
                'a session idle past the timeout is gone');
SELECT mcp.open_session(:admin_id, '2025-06-18') AS other_session \gset
SELECT is((SELECT count(*) FROM mcp.mcp_sessions WHERE id = :'session_id'), 0::bigint,
          'opening a session removes expired ones');
SELECT throws_ok($$INSERT INTO mcp.mcp_sessions (id, api_key_id, protocol_version) VALUES ('short', 1, '2025-06-18')$$,
                 '23514', NULL, 'a session id has the fixed shape');
SELECT ok(mcp.close_session(:'other_session', :admin_id), 'a session is closed by its key');

-- Privileges -------------------------------------------------------------------------------
SELECT ok(has_function_privilege('mcp_reader', 'mcp.authenticate(text)', 'EXECUTE'), 'the bridge authenticates as a reader');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.call_tool(text,jsonb,jsonb)', 'EXECUTE'), 'readers call tools');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.call_tool_result(text,jsonb,jsonb)', 'EXECUTE'), 'and get their results as rows');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.mcp_tools()', 'EXECUTE'), 'readers list tools');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.read_resource(text)', 'EXECUTE'), 'readers read resources');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.get_prompt(text,jsonb)', 'EXECUTE'), 'readers get prompts');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.search_query_logs(jsonb)', 'EXECUTE'), 'readers search the query log');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.create_api_key(text,text,timestamptz)', 'EXECUTE'), 'readers cannot create keys');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.api_keys()', 'EXECUTE'), 'readers cannot list keys');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.api_register_dataset(jsonb)', 'EXECUTE'), 'readers cannot register through the API');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.api_approve_dataset(integer,text)', 'EXECUTE'), 'readers cannot approve through the API');
SELECT ok(has_function_privilege('mcp_admin', 'mcp.create_api_key(text,text,timestamptz)', 'EXECUTE'), 'admins create keys');
SELECT ok(NOT has_table_privilege('mcp_admin', 'mcp.mcp_sessions', 'SELECT'), 'sessions are reached only through functions');
SELECT ok(NOT has_table_privilege('mcp_admin', 'mcp.tools', 'UPDATE'), 'the catalog is changed by its owner only');

-- Arguments are checked against the tool's schema before anything runs -----------------------
SELECT is(mcp._argument_problem('{"type": "integer"}', '7'), NULL, 'an integer is an integer');
SELECT is(mcp._argument_problem('{"type": "integer"}', '7.5'), 'arguments must be an integer, not 7.5', 'a fraction is not');
SELECT is(mcp._argument_problem('{"type": "integer", "minimum": 1}', '0'), 'arguments must be at least 1', 'minimum');
SELECT is(mcp._argument_problem('{"type": "integer", "maximum": 3}', '4'), 'arguments must be at most 3', 'maximum');
SELECT is(mcp._argument_problem('{"type": "string", "minLength": 1}', '""'), 'arguments must not be empty', 'minLength');
SELECT is(mcp._argument_problem('{"type": "string", "enum": ["a", "b"]}', '"c"'), 'arguments must be one of ["a", "b"]', 'enum');
SELECT is(mcp._argument_problem('{"type": "array", "maxItems": 1}', '[1, 2]'), 'arguments takes at most 1 items, got 2', 'maxItems');
SELECT is(mcp._argument_problem('{"type": "object", "properties": {"q": {"type": "array", "items": {"type": "object", "required": ["sql"]}}}}',
                                '{"q": [{"sql": "x"}, {}]}'),
          'arguments.q[1].sql is required', 'nested items name their path');
SELECT is(mcp._argument_problem('{"type": "object", "required": ["a"]}', '{"a": null}'), 'arguments.a is required', 'null counts as missing');
SELECT is(mcp._argument_problem('{"type": "object", "properties": {}, "additionalProperties": false}', '[]'),
          'arguments must be a JSON object, not array', 'arguments must be an object');
SELECT is(mcp._argument_problem('{"type": "string", "maxLength": 3}', '"é€𝄞"'), NULL, 'maxLength counts characters, not bytes');
SELECT is(mcp._argument_problem('{"type": "string", "maxLength": 3}', '"abcd"'), 'arguments is longer than 3 characters', 'maxLength');
SELECT is(mcp._argument_problem('{"type": "object", "properties": {"b": {}, "a": {}}, "additionalProperties": false}', '{"a": 1, "zz": 2}'),
          'arguments has no field "zz"; its fields are: a, b', 'an unknown field is named, with the known ones in order');
SELECT is(mcp._argument_problem('{"type": "integer"}', to_jsonb(repeat('é', 100))), 'arguments must be an integer, not "' || repeat('é', 59),
          'a long wrong value is cut at 60 characters');
SELECT is(mcp._argument_problem(NULL, '{"a": 1}'), NULL, 'no schema, no problem');
SELECT is(mcp._argument_problem('{"type": "object"}', NULL), NULL, 'no value, no problem');
SELECT is(mcp._argument_problem('{"type": "array", "items": {"type": "integer", "minimum": 0}}',
                                (SELECT jsonb_agg(g) || '[-1]' FROM generate_series(1, 100000) g)),
          'arguments[100000] must be at least 0', 'a huge array is walked to its last item');
SELECT throws_ok($$SELECT mcp._argument_problem('{"type": "string", "minLength": "x"}', '"a"')$$, '22P02', NULL,
                 'a malformed schema is an error, not a pass');

-- The caller's key: mcp.caller first, else mcp.request_context's api_key_id -------------------
SELECT set_config('mcp.caller', '', true), set_config('mcp.request_context', '', true);
SELECT is(mcp._caller_api_key(), NULL, 'a direct SQL call has no caller key');
SELECT set_config('mcp.caller', '42', true);
SELECT is(mcp._caller_api_key(), 42, 'mcp.caller names the key');
SELECT set_config('mcp.request_context', '{"api_key_id": 7}', true);
SELECT is(mcp._caller_api_key(), 42, 'and wins over the request context');
SELECT set_config('mcp.caller', '0', true);
SELECT is(mcp._caller_api_key(), 7, 'caller 0 is no caller: the context''s key counts');
SELECT set_config('mcp.caller', '1234567890', true);
SELECT is(mcp._caller_api_key(), 7, 'nor is an id too long for an integer');
SELECT set_config('mcp.request_context', '{"api_key_id": "8"}', true);
SELECT is(mcp._caller_api_key(), 8, 'a key id given as a string');
SELECT set_config('mcp.request_context', '{"api_key_id": 7.5}', true);
SELECT is(mcp._caller_api_key(), NULL, 'a fraction is no key id');
SELECT set_config('mcp.request_context', '[{"api_key_id": 7}]', true);
SELECT is(mcp._caller_api_key(), NULL, 'nor is a context that is not an object');
SELECT set_config('mcp.request_context', 'not json', true);
SELECT throws_ok($$SELECT mcp._caller_api_key()$$, '22P02', NULL, 'a context that is not JSON is an error');
SELECT set_config('mcp.caller', '', true), set_config('mcp.request_context', '', true);

-- A new tool is a row and a function: the dispatch needs no change ---------------------------
CREATE FUNCTION pg_temp.echo_tool(arguments jsonb, context jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT jsonb_build_object('text', 'echo ' || (arguments ->> 'word'), 'structured', jsonb_build_object('word', arguments ->> 'word', 'tool', context ->> 'tool', 'setting', current_setting('mcp.request_context', true)::jsonb ->> 'client_name')) $$;
SELECT pg_my_temp_schema()::regnamespace::text AS temp_schema \gset
INSERT INTO mcp.tools (name, title, description, handler, input_schema)
VALUES ('tap_echo', 'Echo', 'Repeats a word.', :'temp_schema' || '.echo_tool',
        '{"type": "object", "properties": {"word": {"type": "string"}}, "required": ["word"]}');
SELECT ok(EXISTS (SELECT 1 FROM mcp.mcp_tools() WHERE name = 'tap_echo'), 'an inserted tool is listed');
SELECT is(mcp.call_tool('tap_echo', '{"word": "hi"}', '{"client_name": "tap-client"}'),
          '{"content": [{"type": "text", "text": "echo hi"}], "structuredContent": {"word": "hi", "tool": "tap_echo", "setting": "tap-client"}, "isError": false}'::jsonb,
          'and dispatched, with the caller in its context and in mcp.request_context');
CREATE FUNCTION pg_temp.precise_tool(arguments jsonb, context jsonb) RETURNS jsonb LANGUAGE sql AS
$$ SELECT CASE arguments ->> 'shape'
            WHEN 'number' THEN jsonb_build_object('text', 'precise', 'structured', jsonb_build_object('n', 1234567890.123456789012::numeric))
            WHEN 'null' THEN '{"text": "null structured", "structured": null}'::jsonb
            ELSE '{"text": "no structured"}'::jsonb END $$;
INSERT INTO mcp.tools (name, title, description, handler, input_schema)
VALUES ('tap_precise', 'Precise', 'Returns a long number.', :'temp_schema' || '.precise_tool', '{"type": "object"}');
SELECT is((SELECT result::jsonb #>> '{structuredContent,n}' FROM mcp.call_tool_result('tap_precise', '{"shape": "number"}')),
          '1234567890.123456789012', 'a handler''s numbers keep every digit');
SELECT is(mcp.call_tool('tap_precise', '{"shape": "null"}') -> 'structuredContent', 'null'::jsonb,
          'a structured null stays null');
SELECT is(mcp.call_tool('tap_precise', '{}') -> 'structuredContent', '{}'::jsonb, 'and none becomes {}');
INSERT INTO mcp.tools (name, title, description, handler, input_schema, requires)
VALUES ('tap_later', 'Later', 'Needs a part not installed.', :'temp_schema' || '.echo_tool',
        '{"type": "object"}', '{"mcp.not_installed_yet(integer)"}');
SELECT ok(NOT EXISTS (SELECT 1 FROM mcp.mcp_tools() WHERE name = 'tap_later'), 'a tool whose functions are missing is not offered');
SELECT throws_ok($$SELECT mcp.call_tool('tap_later')$$, '42883', 'Unknown tool: tap_later', 'nor callable');
-- Each backend keeps the answer until functions change.
CREATE FUNCTION mcp.not_installed_yet(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1';
SELECT ok(EXISTS (SELECT 1 FROM mcp.mcp_tools() WHERE name = 'tap_later'), 'once its function exists, it is offered in the same session');
DROP FUNCTION mcp.not_installed_yet(integer);
SELECT ok(NOT EXISTS (SELECT 1 FROM mcp.mcp_tools() WHERE name = 'tap_later'), 'and no longer once it is dropped');

-- A live dataset reaches tools, resources and prompts ------------------------------------------
SELECT mcp.register_dataset('tap_mcp_demo', :'demo_conninfo') AS ds \gset
SELECT ok(NOT EXISTS (SELECT 1 FROM mcp.mcp_resources() WHERE uri LIKE 'mcp-analytics://datasets/' || :ds || '/%'),
          'a draft dataset has no resources');
-- What profiling would have left, written directly: the background worker cannot see this
-- transaction.
INSERT INTO mcp.llm_metadata (dataset_id, description, written_by) VALUES (:ds, 'A panel for tap.', 'profile');
SELECT set_config('tap.ds', :'ds', true) \gset
DO $$ BEGIN
    PERFORM mcp.set_dataset_status(current_setting('tap.ds')::integer, s) FROM unnest(ARRAY['profiling', 'metadata_pending']) s;
END $$;
SELECT is((mcp.api_approve_dataset(:ds, 'tap reviewer')) ->> 'approved_by', 'tap reviewer',
          'approving through the REST helper records the approver');
SELECT ok((SELECT description FROM mcp.mcp_tools() WHERE name = 'execute_query') LIKE '%' || :ds || ' = tap_mcp_demo%',
          'tool descriptions name the live datasets');
SELECT ok((SELECT input_schema -> 'properties' -> 'dataset_id' ->> 'description' FROM mcp.mcp_tools() WHERE name = 'execute_query')
          LIKE '%tap_mcp_demo%', 'so does the dataset_id schema');
SELECT set_eq($$SELECT uri FROM mcp.mcp_resources() WHERE uri LIKE 'mcp-analytics://datasets/$$ || :ds || $$/%'$$,
              ARRAY['mcp-analytics://datasets/' || :ds || '/overview', 'mcp-analytics://datasets/' || :ds || '/schema'],
              'an approved dataset has an overview and a schema resource');
SELECT ok((SELECT content FROM mcp.read_resource('mcp-analytics://datasets/' || :ds || '/overview')) LIKE '%<untrusted-data id="%">
# tap_mcp_demo%',
          'the overview reads as markdown about the dataset');
SELECT ok(mcp.get_prompt('analyze_dataset', jsonb_build_object('dataset_id', :ds::text, 'question', 'Who buys?'))::text
          LIKE '%tap_mcp_demo (id ' || :ds || ')%Who buys?%', 'the analysis prompt names the dataset and the question');
SELECT ok((mcp.call_tool('list_datasets') -> 'structuredContent' -> 'datasets') @> jsonb_build_array(jsonb_build_object('id', :ds)),
          'list_datasets includes it');

-- Log rows are written so that they survive a rollback (a failed query keeps its row), so
-- this run's rows carry a client name of their own.
SELECT 'tap-client-' || md5(clock_timestamp()::text || pg_backend_pid()) AS client \gset
SELECT mcp.call_tool('execute_query', jsonb_build_object('dataset_id', :ds, 'sql', 'SELECT count(*) AS n FROM panelists'),
                     jsonb_build_object('client_name', :'client', 'client_version', '1.2.3', 'user_agent', 'tap-agent/1',
                                        'session_id', 'tap-session', 'api_key_id', :reader_id)) AS result \gset
SELECT is(:'result'::jsonb ->> 'isError', 'false', 'execute_query runs through call_tool');
SELECT is((:'result'::jsonb -> 'structuredContent' ->> 'row_count')::integer, 1, 'its structured result is the query result');
SELECT results_eq($$SELECT mcp_tool, client_name, client_version, user_agent, session_id, api_key_id, success
                      FROM mcp.query_logs WHERE client_name = '$$ || :'client' || $$' ORDER BY id DESC LIMIT 1$$,
                  $$VALUES ('execute_query', '$$ || :'client' || $$', '1.2.3', 'tap-agent/1', 'tap-session', $$ || :reader_id || $$, true)$$,
                  'the caller''s client, user agent, session and key reach the query log');
SELECT is((mcp.search_query_logs(jsonb_build_object('client', :'client', 'since', '1h')) ->> 'total')::integer, 1,
          'the log is searchable by client and age');
SELECT ok((mcp.call_tool('execute_query', jsonb_build_object('dataset_id', :ds, 'sql', 'DELETE FROM panelists'),
                         jsonb_build_object('client_name', :'client')) ->> 'isError')::boolean,
          'a refused query is an isError result, not a failed call');
SELECT is((SELECT (result::jsonb #>> '{structuredContent,row_count}') || ' / ' || is_error::text || ' / ' || coalesce(insufficient_scope, 'none')
             FROM mcp.call_tool_result('execute_query', jsonb_build_object('dataset_id', :ds, 'sql', 'SELECT count(*) AS n FROM panelists'),
                                       '{"client_name": "tap-result-row"}')),
          '1 / false / none', 'call_tool_result answers the same as a row: the result as text, whether it is an error, no scope missing');
SELECT is((SELECT is_error FROM mcp.call_tool_result('execute_query', jsonb_build_object('dataset_id', :ds, 'sql', 'DELETE FROM panelists'),
                                                     '{"client_name": "tap-result-row"}')),
          true, 'and says when the result is an error');
SELECT ok(strpos((SELECT result::jsonb #>> '{content,0,text}'
                    FROM mcp.call_tool_result('execute_query', jsonb_build_object('dataset_id', :ds, 'format', 'json',
                                                                                    'sql', 'SELECT 1234567890.123456789012::numeric AS n'),
                                              '{"client_name": "tap-result-row"}')),
                 '[[1234567890.123456789012]]') > 0,
          'a json result''s text keeps every digit of a numeric');
SELECT results_eq($$SELECT success, mcp_tool FROM mcp.query_logs WHERE client_name = '$$ || :'client' || $$' AND NOT success$$,
                  $$VALUES (false, 'execute_query')$$, 'and its log row survives the isError answer');

DO $$ BEGIN PERFORM mcp.set_dataset_status(current_setting('tap.ds')::integer, 'inactive'); END $$;
SELECT ok((mcp.call_tool('describe_dataset', jsonb_build_object('dataset_id', :ds)) ->> 'isError')::boolean,
          'a deactivated dataset is no longer described');
SELECT throws_ok(format($$SELECT * FROM mcp.read_resource('mcp-analytics://datasets/%s/schema')$$, :ds), '42704', NULL,
                 'nor readable as a resource');

SELECT * FROM finish();
ROLLBACK;
