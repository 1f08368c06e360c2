-- Who may do what: PUBLIC nothing, readers read, admins change the registry, superusers
-- handle keys. Non-superuser admins cannot lend out the metadata server's own trust.
\getenv demo_conninfo MCP_DEMO_CONNINFO
\getenv socket_dir PGHOST
\getenv port MCP_TEST_PORT
BEGIN;
SELECT plan(24);

SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'mcp' AND has_function_privilege('public', p.oid, 'EXECUTE')),
          0::bigint, 'PUBLIC may execute no mcp function');
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'mcp' AND c.relkind IN ('r', 'S', 'u')
              AND (has_table_privilege('public', c.oid, 'SELECT') OR has_table_privilege('mcp_admin', c.oid, 'SELECT')
                   OR has_table_privilege('mcp_reader', c.oid, 'SELECT'))),
          0::bigint, 'no role but the owner reads mcp tables directly (functions are the interface)');
SELECT ok(NOT has_schema_privilege('public', 'mcp', 'USAGE'), 'PUBLIC cannot even see into schema mcp');

SELECT function_privs_are('mcp', 'datasets', ARRAY['text'], 'mcp_reader', ARRAY['EXECUTE'], 'readers list datasets');
SELECT function_privs_are('mcp', 'dataset', ARRAY['integer'], 'mcp_reader', ARRAY['EXECUTE'], 'readers read one dataset');
SELECT function_privs_are('mcp', 'register_dataset', ARRAY['text', 'text', 'text', 'text'], 'mcp_reader', ARRAY[]::text[], 'readers cannot register');
SELECT function_privs_are('mcp', 'register_dataset', ARRAY['text', 'text', 'text', 'text'], 'mcp_admin', ARRAY['EXECUTE'], 'admins register');
SELECT function_privs_are('mcp', 'set_dataset_status', ARRAY['integer', 'text'], 'mcp_admin', ARRAY['EXECUTE'], 'admins move datasets along the lifecycle');
SELECT ok(NOT has_function_privilege('mcp_admin', 'mcp.rotate_key(text)', 'EXECUTE'), 'admins cannot rotate the key');
SELECT ok(NOT has_function_privilege('mcp_admin', 'mcp._seal_connection(text,text)', 'EXECUTE'), 'admins cannot call the sealing internals');
SELECT ok(NOT has_function_privilege('mcp_admin', 'mcp._probe_connection(text,bytea)', 'EXECUTE'), 'admins cannot call the probing internals');
SELECT ok(NOT has_function_privilege('mcp_admin', 'mcp.key_id(text)', 'EXECUTE'), 'admins cannot read key ids');

CREATE ROLE tap_reader LOGIN IN ROLE mcp_reader;
CREATE ROLE tap_admin LOGIN IN ROLE mcp_admin;
CREATE ROLE tap_nobody LOGIN;

SET ROLE tap_nobody;
SELECT throws_ok($$SELECT * FROM mcp.datasets()$$, '42501', NULL, 'a role without mcp roles is refused');
RESET ROLE;

SET ROLE tap_admin;
SELECT lives_ok(format($$SELECT mcp.register_dataset('by_admin', %L)$$, :'demo_conninfo'), 'an admin registers with a password-authenticated string');
SELECT is((SELECT created_by FROM mcp.datasets() WHERE name = 'by_admin'), 'postgres', 'created_by is the session user behind the admin role');
SELECT throws_ok(format($$SELECT mcp.register_dataset('trusting', 'host=%s port=%s dbname=mcp_demo user=postgres')$$, :'socket_dir', :'port'),
                 '42501', 'dataset "trusting" was reached without a password',
                 'a non-superuser cannot register a string the server lets in without a password');
SELECT throws_ok($$SELECT mcp.register_dataset('pass_file', 'host=127.0.0.1 passfile=/etc/passwd')$$,
                 '42501', 'connection option "passfile" is reserved to superusers',
                 'a non-superuser cannot make the server read its own files');
SELECT throws_ok($$SELECT mcp.register_dataset('service_file', 'service=secret')$$,
                 '42501', NULL, 'nor name a service file entry');
SELECT throws_ok($$SELECT * FROM mcp.datasets$$, '42501', NULL, 'an admin cannot read the table with the ciphertexts');
SELECT throws_ok($$SELECT mcp.rotate_key('/tmp/x')$$, '42501', NULL, 'an admin cannot rotate keys');
RESET ROLE;

SET ROLE tap_reader;
SELECT is((SELECT count(*) FROM mcp.datasets() WHERE name = 'by_admin'), 1::bigint, 'a reader sees the registry');
SELECT throws_ok(format($$SELECT mcp.register_dataset('by_reader', %L)$$, :'demo_conninfo'), '42501', NULL, 'a reader cannot register');
SELECT throws_ok($$SELECT mcp.set_dataset_status(1, 'inactive')$$, '42501', NULL, 'a reader cannot change a status');
RESET ROLE;

-- A superuser may use trust authentication (the DBA's own call).
SELECT lives_ok(format($$SELECT mcp.register_dataset('trusted_by_superuser', 'host=%s port=%s dbname=mcp_demo user=postgres')$$, :'socket_dir', :'port'),
                'a superuser may register a string without a password (with a warning)');

SELECT * FROM finish();
ROLLBACK;
