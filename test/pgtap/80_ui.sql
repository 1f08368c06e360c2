-- What the dashboard relies on in the extension: browser sessions stored as hashes and bound
-- to live API keys, with their CSRF tokens; query-log statistics, detail and CSV export; the
-- page functions; and who may call which.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(66);
SET LOCAL client_min_messages = warning;

-- Sessions ---------------------------------------------------------------------------------
SELECT mcp.create_api_key('ui tap admin', 'admin') AS admin_secret \gset
SELECT mcp.create_api_key('ui tap reader', 'reader') AS reader_secret \gset
SELECT * FROM mcp.ui_sign_in(:'admin_secret', 'tap browser') \gset admin_
SELECT * FROM mcp.ui_sign_in(:'reader_secret') \gset reader_

SELECT matches(:'admin_session_token'::text, '^[0-9a-f]{64}$', 'a session token is 64 hex digits');
SELECT matches(:'admin_csrf_token'::text, '^[0-9a-f]{64}$', 'so is its CSRF token');
SELECT isnt(:'admin_session_token'::text, :'admin_csrf_token'::text, 'the two are drawn separately');
SELECT isnt(:'admin_session_token'::text, :'reader_session_token'::text, 'every sign-in gets its own session');
SELECT is(:'admin_role'::text, 'admin', 'sign-in reports the key''s role');
SELECT is(:'admin_key_name'::text, 'ui tap admin', '... and its name');
SELECT ok(:'admin_expires_at'::timestamptz BETWEEN now() + interval '11 hours' AND now() + interval '13 hours',
          'a session lasts 12 hours by default');
SELECT is((SELECT token_hash FROM mcp.ui_sessions WHERE api_key_id = :admin_api_key_id),
          sha256(convert_to(:'admin_session_token', 'UTF8')), 'only the SHA-256 of the token is stored');
SELECT is((SELECT count(*) FROM mcp.ui_sessions s, jsonb_each_text(to_jsonb(s)) AS f(key, value)
            WHERE position(:'admin_session_token' IN f.value) > 0), 0::bigint, 'no column holds the token');
SELECT is((SELECT user_agent FROM mcp.ui_sessions WHERE api_key_id = :admin_api_key_id), 'tap browser',
          'the browser''s user agent is kept for the record');

SELECT results_eq(format($$SELECT key_name, role, csrf_token FROM mcp.ui_session(%L)$$, :'admin_session_token'),
                  format($$VALUES ('ui tap admin'::text, 'admin'::text, %L::text)$$, :'admin_csrf_token'),
                  'the cookie''s token finds its session, role and CSRF token');
SELECT results_eq(format($$SELECT role FROM mcp.ui_session(%L)$$, :'reader_session_token'),
                  $$VALUES ('reader'::text)$$, 'a reader key opens a reader session');
SELECT is_empty($$SELECT * FROM mcp.ui_session(repeat('0', 64))$$, 'an unknown token finds nothing');
SELECT is_empty(format($$SELECT * FROM mcp.ui_session(upper(%L))$$, :'admin_session_token'),
                'tokens are compared exactly');
SELECT is_empty($$SELECT * FROM mcp.ui_session('not a token')$$, 'a malformed token finds nothing');
SELECT is_empty($$SELECT * FROM mcp.ui_session(NULL)$$, 'NULL finds nothing');
SELECT is_empty($$SELECT * FROM mcp.ui_sign_in('mcp_nonsense')$$, 'an unknown key opens no session');
SELECT throws_ok(format($$SELECT * FROM mcp.ui_sign_in(%L, NULL, interval '90 days')$$, :'admin_secret'),
                 '22023', NULL, 'a session lasts at most 30 days');

-- Idle and expired sessions, revoked and expired keys
UPDATE mcp.ui_sessions SET last_seen_at = now() - interval '3 hours' WHERE api_key_id = :reader_api_key_id;
SELECT is_empty(format($$SELECT * FROM mcp.ui_session(%L)$$, :'reader_session_token'),
                'a session idle longer than the idle timeout (2 hours) has ended');
SELECT isnt_empty(format($$SELECT * FROM mcp.ui_session(%L, interval '4 hours')$$, :'reader_session_token'),
                  '... unless the caller allows longer');
UPDATE mcp.ui_sessions SET expires_at = now() - interval '1 second' WHERE api_key_id = :reader_api_key_id;
SELECT is_empty(format($$SELECT * FROM mcp.ui_session(%L, interval '4 hours')$$, :'reader_session_token'),
                'an expired session has ended');
SELECT mcp.create_api_key('ui tap short', 'admin', now() + interval '1 hour') AS short_secret \gset
SELECT session_token AS short_token FROM mcp.ui_sign_in(:'short_secret') \gset
UPDATE mcp.api_keys SET expires_at = now() - interval '1 second' WHERE name = 'ui tap short';
SELECT is_empty(format($$SELECT * FROM mcp.ui_session(%L)$$, :'short_token'),
                'a session ends when its key expires');
SELECT * FROM mcp.ui_sign_in(:'admin_secret') \gset second_
SELECT mcp.revoke_api_key('ui tap admin') AS revoked \gset
SELECT is_empty(format($$SELECT * FROM mcp.ui_session(%L)$$, :'second_session_token'),
                'revoking a key ends its dashboard sessions at once');
SELECT is_empty(format($$SELECT * FROM mcp.ui_sign_in(%L)$$, :'admin_secret'), 'a revoked key cannot sign in');

SELECT mcp.create_api_key('ui tap out', 'reader') AS out_secret \gset
SELECT session_token AS out_token FROM mcp.ui_sign_in(:'out_secret') \gset
SELECT is(mcp.ui_sign_out(:'out_token'), true, 'signing out ends the session');
SELECT is_empty(format($$SELECT * FROM mcp.ui_session(%L)$$, :'out_token'), '... so its cookie opens nothing');
SELECT is(mcp.ui_sign_out(:'out_token'), false, 'signing out twice is harmless');
SELECT is((SELECT count(*) FROM mcp.ui_sessions WHERE expires_at <= now()), 0::bigint,
          'expired sessions are removed when new ones are opened');

-- Query-log statistics ---------------------------------------------------------------------
DELETE FROM mcp.query_logs;
INSERT INTO mcp.query_logs (query_text, query_type, execution_time_ms, rows_returned, success,
                            error_message, error_sqlstate, tool_used, client_name, session_id, created_at)
SELECT CASE WHEN i % 10 = 0 THEN 'SELECT broken' ELSE 'SELECT ' || i END, 'raw', i::double precision, 1,
       i % 10 <> 0, CASE WHEN i % 10 = 0 THEN 'it broke' END, CASE WHEN i % 10 = 0 THEN '42P01' END,
       'claude', CASE WHEN i <= 60 THEN 'Claude Desktop' WHEN i <= 90 THEN 'cursor-agent' ELSE 'client ' || i END,
       repeat('ab', 32), timestamptz '2026-03-01 10:00:00+00' + (i - 1) * interval '30 seconds'
  FROM generate_series(1, 100) i;
INSERT INTO mcp.query_logs (query_text, execution_time_ms, success, tool_used, created_at)
VALUES ('=HYPERLINK("http://x")', 1, true, 'sql', timestamptz '2026-03-01 10:30:00+00'),
       (E'SELECT ''a,"b"''\n-- two lines', 2, true, 'sql', timestamptz '2026-03-01 10:31:00+00');

SELECT mcp.query_log_stats('{"since": "2026-03-01T10:00:00Z", "until": "2026-03-01T11:00:00Z"}', 2) AS stats \gset
SELECT is((:'stats'::jsonb) ->> 'bucket_seconds', '60', 'one hour is charted by the minute');
SELECT is(jsonb_array_length((:'stats'::jsonb) -> 'buckets'), 60, '... in 60 buckets');
SELECT is((:'stats'::jsonb) #>> '{buckets,0}', extract(epoch FROM timestamptz '2026-03-01 10:00:00+00')::bigint::text,
          'buckets are named by their start, in Unix seconds');
SELECT is((:'stats'::jsonb) #>> '{totals,calls}', '102', 'every call in the window is counted');
SELECT is((:'stats'::jsonb) #>> '{totals,failed}', '10', '... and the failed ones');
SELECT is((SELECT jsonb_agg(c ->> 'client') FROM jsonb_array_elements((:'stats'::jsonb) -> 'clients') c),
          '["Claude Desktop", "cursor-agent", "(other clients)"]'::jsonb,
          'the busiest clients by name, the rest together');
SELECT is((SELECT sum(v::integer) FROM jsonb_array_elements((:'stats'::jsonb) -> 'clients') c,
                  jsonb_array_elements_text(c -> 'series') v), 102::bigint,
          'the series add up to the calls');
SELECT is((SELECT (c -> 'series' ->> 0)::integer FROM jsonb_array_elements((:'stats'::jsonb) -> 'clients') c
            WHERE c ->> 'client' = 'Claude Desktop'), 2, 'two calls a minute at the start');
SELECT is((:'stats'::jsonb) #>> '{latency_ms,p50,0}', '1.500', 'the median latency of a bucket');
SELECT is((:'stats'::jsonb) #>> '{latency_ms,p50,59}', NULL, 'an empty bucket has no percentile');
SELECT is((:'stats'::jsonb) #>> '{totals,p50_ms}', '49.500', 'the median over the window');

SELECT is((SELECT (mcp.query_log_stats(jsonb_build_object('since', r)) ->> 'bucket_seconds')::integer
             FROM (VALUES ('1h')) AS v(r)), 60, '1h: one-minute buckets');
SELECT results_eq($$SELECT (mcp.query_log_stats(jsonb_build_object('since', r)) ->> 'bucket_seconds')::integer
                      FROM unnest(ARRAY['24h', '7d', '30d']) r$$,
                  $$VALUES (1800), (10800), (43200)$$, '24h, 7d and 30d: half hours, 3 hours, 12 hours');
SELECT ok((SELECT bool_and(jsonb_array_length(mcp.query_log_stats(jsonb_build_object('since', r)) -> 'buckets') <= 60)
             FROM unnest(ARRAY['1h', '24h', '7d', '30d']) r), 'never more than 60 buckets');
SELECT is(mcp.query_log_stats('{"since": "2026-03-01T10:00:00Z", "until": "2026-03-01T11:00:00Z", "client": "cursor-agent", "success": "false"}')
              #>> '{totals,calls}', '3', 'the log filters apply to the charts');
SELECT throws_ok($$SELECT mcp.query_log_stats('{"since": "yesterday-ish"}')$$, '22023', NULL, 'a bad time filter is refused');
SELECT throws_ok($$SELECT mcp.query_log_stats('{"colour": "red"}')$$, '22023', NULL, 'an unknown filter is refused');

-- One entry, the clients, CSV --------------------------------------------------------------
SELECT id AS entry_id FROM mcp.query_logs WHERE query_text = 'SELECT broken' ORDER BY id LIMIT 1 \gset
SELECT mcp.query_log(:entry_id) AS entry \gset
SELECT is((:'entry'::jsonb) ->> 'error_message', 'it broke', 'one entry in full');
SELECT ok(NOT (:'entry'::jsonb) ? 'session_id', 'without its MCP session id');
SELECT is((:'entry'::jsonb) ->> 'session_prefix', 'abababab', '... of which it shows 8 characters');
SELECT throws_ok('SELECT mcp.query_log(-1)', 'P0002', NULL, 'an unknown entry is an error');

SELECT mcp.query_logs_csv('{"since": "2026-03-01T10:00:00Z", "until": "2026-03-01T11:00:00Z"}') AS csv \gset
SELECT is(split_part(:'csv', E'\r\n', 1),
          'id,created_at,client_name,client_version,tool_used,query_type,datasets_used,success,error_sqlstate,error_message,execution_time_ms,rows_returned,response_format,response_size_bytes,was_cached,api_key_id,user_agent,query_text',
          'CSV starts with a header');
SELECT is(array_length(regexp_split_to_array(rtrim(:'csv', E'\r\n'), E'\r\n'), 1), 103, 'then one line per call');
SELECT ok(position(E',"''=HYPERLINK(""http://x"")"\r\n' IN :'csv') > 0,
          'text a spreadsheet would run as a formula is quoted behind an apostrophe');
SELECT ok(position(E',"SELECT ''a,""b""''\n-- two lines"\r\n' IN :'csv') > 0,
          'commas, quotes and line breaks are quoted as RFC 4180 says');
SELECT is(array_length(regexp_split_to_array(rtrim(mcp.query_logs_csv('{"client": "Claude Desktop"}', 5), E'\r\n'), E'\r\n'), 1),
          6, 'max_rows bounds the export');

-- Page functions -----------------------------------------------------------------------------
SET LOCAL mcp_analytics.profile_on_register = on;
SELECT mcp.register_dataset('ui_tap_panel', :'demo_conninfo') AS ds \gset
SELECT mcp.ui_dataset_page(:ds) AS before_jobs \gset
SELECT is((:'before_jobs'::jsonb) -> 'metadata', 'null'::jsonb, 'before profiling a dataset page has no metadata');
SELECT is((:'before_jobs'::jsonb) #>> '{progress,busy}', 'true', '... and shows its profiling as queued');
CALL mcp.run_pending_jobs();
SELECT mcp.ui_dataset_page(:ds) AS page \gset
SELECT is((:'page'::jsonb) #>> '{dataset,status}', 'metadata_pending', 'after the jobs, the page shows the dataset for review');
SELECT is((:'page'::jsonb) #>> '{progress,busy}', 'false', '... with no job left');
SELECT ok((SELECT bool_and(jsonb_array_length(t -> 'sample') <= 5) FROM jsonb_array_elements((:'page'::jsonb) -> 'profile') t),
          'no table shows more than 5 sample rows');
SELECT is(mcp.ui_datasets_page('metadata_pending') #>> '{counts,metadata_pending}', '1', 'the list counts datasets by status');
SELECT is(mcp.ui_update_metadata(:ds, jsonb_build_object('description', (:'page'::jsonb) #>> '{metadata,description}',
                                                         'user_notes', NULL)) ->> 'user_edited',
          'false', 'an unchanged form does not mark the metadata edited');
SELECT is(mcp.ui_update_metadata(:ds, '{"description": "Checked by a person."}') ->> 'user_edited', 'true',
          'a changed description does');
SELECT is(mcp.get_metadata(:ds) #>> '{diff,description,current}', 'Checked by a person.', '... and shows in the diff');

-- Who may call what
CREATE ROLE ui_tap_reader IN ROLE mcp_reader;
SET LOCAL ROLE ui_tap_reader;
SELECT lives_ok($$SELECT mcp.query_log_stats('{}'), mcp.query_logs_csv('{}'), mcp.ui_logs_page('{}'), mcp.ui_datasets_page()$$,
                'readers read the log, its charts and the dataset list');
SELECT throws_ok($$SELECT * FROM mcp.ui_sessions$$, '42501', NULL, 'nobody reads the session table directly');
SELECT throws_ok($$SELECT mcp.ui_update_metadata(1, '{}')$$, '42501', NULL, 'readers cannot edit metadata');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
