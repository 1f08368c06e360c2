-- Every kind of failure crossing the C++/PostgreSQL boundary becomes an SQL error with its
-- SQLSTATE, destroys the C++ objects alive at the time, and leaves the session usable.
\set VERBOSITY default
\set SHOW_CONTEXT never
CREATE FUNCTION pg_temp.error_of(kind text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text; message text; detail text; hint text;
BEGIN
    PERFORM mcp._test_error_boundary(kind);
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN format('%s: %s | %s | %s', state, message, detail, hint);
END $$;
SELECT kind, pg_temp.error_of(kind) AS error
  FROM unnest(ARRAY['cpp_exception', 'unknown_exception', 'bad_alloc', 'mcp_error',
                    'postgres_error', 'something_else', 'none']) AS kind;
SELECT mcp._test_error_boundary('live_objects') AS objects_left_alive;
-- The error reaches the client as a real ERROR, not only inside plpgsql.
SELECT mcp._test_error_boundary('cpp_exception');
SELECT mcp._test_error_boundary('postgres_error');
SELECT mcp._test_error_boundary('none') AS still_usable;
-- Inside a transaction: the error aborts it, a savepoint recovers.
BEGIN;
SAVEPOINT s;
SELECT mcp._test_error_boundary('bad_alloc');
ROLLBACK TO SAVEPOINT s;
SELECT mcp._test_error_boundary('none') AS usable_after_savepoint;
COMMIT;
-- Only superusers may run the self-test.
CREATE ROLE boundary_tester IN ROLE mcp_admin;
SET ROLE boundary_tester;
SELECT mcp._test_error_boundary('none');
RESET ROLE;
DROP ROLE boundary_tester;
