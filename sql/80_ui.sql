-- The dashboard's SQL surface as mcp-bridge uses it: signing a browser in with an API key,
-- the session its cookie carries (with the CSRF token), signing out; the query log's charts,
-- one entry in detail, and the CSV export.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT mcp.create_api_key('regress ui admin', 'admin') AS secret \gset

-- Signing in: a token for the cookie (only its hash is stored), a CSRF token, who and until when.
SELECT length(session_token) AS token_length, length(csrf_token) AS csrf_length, key_name, role,
       expires_at - now() AS lasts
  FROM mcp.ui_sign_in(:'secret', 'regress browser');
SELECT count(*) AS sessions_for_an_unknown_key FROM mcp.ui_sign_in('mcp_unknown');
SELECT * FROM mcp.ui_sign_in(:'secret', NULL, '1 year');

-- The cookie's session, then signing out.
SELECT session_token AS token, csrf_token AS csrf FROM mcp.ui_sign_in(:'secret') \gset
SELECT key_name, role, csrf_token = :'csrf' AS same_csrf_token FROM mcp.ui_session(:'token');
SELECT count(*) AS sessions_for_a_wrong_token FROM mcp.ui_session(repeat('0', 64));
SELECT mcp.ui_sign_out(:'token') AS signed_out;
SELECT count(*) AS sessions_after_sign_out FROM mcp.ui_session(:'token');

-- The query log, charted: one client's calls and latency by the minute.
INSERT INTO mcp.query_logs (query_text, query_type, execution_time_ms, rows_returned, success,
                            error_message, error_sqlstate, tool_used, client_name, session_id, created_at)
VALUES ('SELECT 1', 'raw', 2, 1, true, NULL, NULL, 'regress', 'regress-ui', repeat('c', 64), '2026-03-01 10:00:10+00'),
       ('SELECT 2', 'raw', 4, 1, true, NULL, NULL, 'regress', 'regress-ui', repeat('c', 64), '2026-03-01 10:00:40+00'),
       ('SELECT nope', 'raw', 1, 0, false, 'relation "nope" does not exist', '42P01', 'regress', 'regress-ui',
        repeat('c', 64), '2026-03-01 10:03:00+00'),
       ('=1+1', 'raw', 3, 1, true, NULL, NULL, 'regress', 'regress-ui', NULL, '2026-03-01 10:04:00+00');
SELECT jsonb_pretty(mcp.query_log_stats(
    '{"client": "regress-ui", "since": "2026-03-01T10:00:00Z", "until": "2026-03-01T10:05:00Z"}'));
SELECT mcp.query_log_stats('{"since": "soon"}');

-- One entry: everything but the MCP session id, of which 8 characters.
SELECT e ->> 'query_text' AS query_text, e ->> 'error_sqlstate' AS sqlstate, e ->> 'session_prefix' AS session,
       e ? 'session_id' AS has_session_id, e -> 'datasets' AS datasets
  FROM mcp.query_log((SELECT max(id) FROM mcp.query_logs WHERE query_text = 'SELECT nope')) AS e;
SELECT mcp.query_log(-1);

-- CSV (ids masked, as they depend on the tests before this one).
SELECT regexp_replace(mcp.query_logs_csv('{"client": "regress-ui"}'), '(^|\n)[0-9]+,', '\1ID,', 'g') AS csv;
SELECT client_name, calls FROM mcp.query_log_clients(interval '100 years') WHERE client_name = 'regress-ui';

DELETE FROM mcp.query_logs WHERE client_name = 'regress-ui';
DELETE FROM mcp.api_keys WHERE name = 'regress ui admin';  -- its sessions go with it
SELECT count(*) AS sessions_left FROM mcp.ui_sessions;
