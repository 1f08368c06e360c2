-- Failures leave nothing behind: no dataset connection stays open and no file descriptor
-- leaks, whatever fails (libpq, the key, a C++ exception, a PostgreSQL error).
\getenv demo_conninfo MCP_DEMO_CONNINFO
\getenv key_dir MCP_TEST_KEY_DIR
BEGIN;
SELECT plan(8);

CREATE FUNCTION pg_temp.open_fds() RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM pg_ls_dir('/proc/' || pg_backend_pid() || '/fd') $$;
CREATE FUNCTION pg_temp.dataset_connections() RETURNS bigint LANGUAGE sql AS
$$ SELECT count(*) FROM pg_stat_activity WHERE datname = 'mcp_demo' AND application_name = 'mcp_analytics' $$;
-- Runs a statement that must fail, 25 times, swallowing the errors.
CREATE FUNCTION pg_temp.fail_repeatedly(statement text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE failures integer := 0;
BEGIN
    FOR i IN 1..25 LOOP
        BEGIN
            EXECUTE statement;
        EXCEPTION WHEN OTHERS THEN
            failures := failures + 1;
        END;
    END LOOP;
    RETURN failures;
END $$;

SELECT mcp.register_dataset('leak_probe', :'demo_conninfo') AS id \gset
-- warm-up: the first call loads libraries and caches, and a few failing ones let the plan
-- caches of the registry's functions settle (after five runs PostgreSQL builds a generic plan,
-- which opens a few more relation files once).
SELECT mcp.test_connection(:id) IS NOT NULL;
SELECT pg_temp.fail_repeatedly(format($$SELECT set_config('mcp_analytics.key_file', '%s/second.key', true), mcp.test_connection(%s)$$, :'key_dir', :id)) = 25;
SELECT pg_temp.open_fds() AS fds_before \gset

SELECT is(pg_temp.fail_repeatedly(format($$SELECT mcp.register_dataset('leak_probe', %L)$$, :'demo_conninfo')), 25,
          'duplicate names fail every time');
SELECT is(pg_temp.fail_repeatedly(format($$SELECT mcp.register_dataset('wrong_pw', %L)$$,
          replace(:'demo_conninfo', 'password=', 'password=x'))), 25, 'wrong passwords fail every time');
SELECT is(pg_temp.fail_repeatedly($$SELECT mcp.register_dataset('refused', 'host=127.0.0.1 port=1 user=u password=p')$$), 25,
          'refused connections fail every time');
SELECT is(pg_temp.fail_repeatedly(format($$SELECT set_config('mcp_analytics.key_file', '%s/second.key', true), mcp.test_connection(%s)$$, :'key_dir', :id)), 25,
          'a wrong key fails every time (after connecting would have been possible)');
SELECT is(pg_temp.fail_repeatedly($$SELECT mcp._test_error_boundary('cpp_exception')$$), 25, 'C++ exceptions fail every time');
SELECT is(pg_temp.fail_repeatedly($$SELECT mcp._test_error_boundary('postgres_error')$$), 25, 'PostgreSQL errors fail every time');

SELECT is(pg_temp.open_fds(), :fds_before::bigint, 'no file descriptor leaked after 150 failures');
SELECT is(pg_temp.dataset_connections(), 0::bigint, 'no connection to the dataset is left open');

SELECT * FROM finish();
ROLLBACK;
