-- Connection strings are sealed with AES-256-GCM under the configured key. A wrong key and
-- tampered ciphertext are errors (never garbage); rotation re-encrypts everything.
\set VERBOSITY default
\set SHOW_CONTEXT never
\getenv demo_conninfo MCP_DEMO_CONNINFO
\getenv key_dir MCP_TEST_KEY_DIR

SELECT mcp.register_dataset('sealed', :'demo_conninfo') AS id \gset
SELECT length(mcp.key_id()) AS key_id_length, mcp.key_id() = mcp.ciphertext_key_id(connection_ciphertext) AS sealed_with_configured_key
  FROM mcp.datasets WHERE id = :id;
-- two seals of the same string differ (random nonce)
SELECT mcp.register_dataset('sealed_again', :'demo_conninfo') AS id2 \gset
SELECT a.connection_ciphertext <> b.connection_ciphertext AS nonces_differ
  FROM mcp.datasets a, mcp.datasets b WHERE a.id = :id AND b.id = :id2;

-- Tampering: flip one byte of the ciphertext body.
BEGIN;
UPDATE mcp.datasets SET connection_ciphertext = set_byte(connection_ciphertext, 30, get_byte(connection_ciphertext, 30) # 1) WHERE id = :id;
SELECT mcp.test_connection(:id);
ROLLBACK;
-- Truncated or foreign bytes.
BEGIN;
UPDATE mcp.datasets SET connection_ciphertext = '\x00deadbeef' WHERE id = :id;
SELECT mcp.test_connection(:id);
ROLLBACK;

-- A wrong key: the error names both key ids (random in each run, masked here) instead of
-- decrypting garbage.
BEGIN;
SELECT set_config('mcp_analytics.key_file', :'key_dir' || '/second.key', true) IS NOT NULL AS switched;
DO $$
DECLARE state text; message text; detail text; hint text;
BEGIN
    PERFORM mcp.test_connection(max(id)) FROM mcp.datasets;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RAISE NOTICE '%: % | % | %', state, message,
        regexp_replace(detail, '[0-9a-f]{16}', 'KEYID', 'g'), regexp_replace(hint, '[0-9a-f]{16}', 'KEYID', 'g');
END $$;
ROLLBACK;

-- Key file problems are configuration errors with a hint.
BEGIN;
SET LOCAL mcp_analytics.key_file = '/nonexistent/mcp.key';
SELECT mcp.register_dataset('no_key', :'demo_conninfo');
ROLLBACK;
BEGIN;
SET LOCAL mcp_analytics.key_file = '';
SELECT mcp.register_dataset('no_key', :'demo_conninfo');
ROLLBACK;

-- Rotation re-encrypts every string under the new key, in this session at once. (Its NOTICE
-- names this run's key file, so it is silenced here.)
SET client_min_messages = warning;
SELECT (r ->> 'rotated')::int AS rotated, r ->> 'new_key_id' = mcp.key_id(:'key_dir' || '/second.key') AS to_second_key
  FROM mcp.rotate_key(:'key_dir' || '/second.key') AS r;
SELECT count(DISTINCT mcp.ciphertext_key_id(connection_ciphertext)) AS distinct_keys,
       bool_and(mcp.ciphertext_key_id(connection_ciphertext) = mcp.key_id()) AS all_under_configured
  FROM mcp.datasets;
SELECT mcp.test_connection(:id) ->> 'ok' AS works_after_rotation;
SELECT (mcp.rotate_key(:'key_dir' || '/second.key') ->> 'rotated')::int AS rotating_again_changes_nothing;
-- A key file that does not exist leaves everything as it was.
SELECT mcp.rotate_key('/nonexistent/new.key');
SELECT count(*) AS under_second_key FROM mcp.datasets WHERE mcp.ciphertext_key_id(connection_ciphertext) = mcp.key_id(:'key_dir' || '/second.key');
-- Back to the original key for the tests that follow.
SELECT (mcp.rotate_key(:'key_dir' || '/mcp_analytics.key') ->> 'rotated')::int > 0 AS rotated_back;
SELECT mcp.test_connection(:id) ->> 'ok' AS works_after_rotating_back;
