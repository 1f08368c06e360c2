-- Registering datasets: a good string works; each kind of bad string gets its own SQLSTATE,
-- a message that says what failed, and never the password.
\set VERBOSITY default
\set SHOW_CONTEXT never
\getenv demo_conninfo MCP_DEMO_CONNINFO
\getenv port MCP_TEST_PORT
\getenv password MCP_DEMO_PASSWORD

-- Runs register_dataset and reports the error as the caller sees it, with the cluster's
-- port (different every run) replaced, and whether the password leaked into any part.
CREATE FUNCTION pg_temp.try_register(name text, conninfo text, port text, password text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text; message text; detail text; hint text;
BEGIN
    PERFORM mcp.register_dataset(name, conninfo);
    RETURN 'registered';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN replace(format(E'%s: %s\nDETAIL: %s\nHINT: %s\npassword shown: %s', state, message,
                          detail, hint,
                          position(password IN message || detail || hint) > 0), port, 'PORT');
END $$;

SELECT mcp.register_dataset('demo_panel', :'demo_conninfo', 'postgres', 'Synthetic panel') AS id;
SELECT id, name, description, status, data_source,
       replace(connection, :'port', 'PORT') AS connection, use_cases, created_by = current_user AS by_me
  FROM mcp.datasets();

-- duplicate name
SELECT pg_temp.try_register('demo_panel', :'demo_conninfo', :'port', :'password');
-- wrong password
SELECT pg_temp.try_register('bad_password', replace(:'demo_conninfo', :'password', 'not-the-password'), :'port', 'not-the-password');
-- missing database
SELECT pg_temp.try_register('no_db', replace(:'demo_conninfo', 'dbname=mcp_demo', 'dbname=no_such_db'), :'port', :'password');
-- unknown role
SELECT pg_temp.try_register('no_role', replace(:'demo_conninfo', 'user=mcp_demo_reader', 'user=nobody_here'), :'port', :'password');
-- unreachable host (a closed loopback port)
SELECT pg_temp.try_register('unreachable', 'host=127.0.0.1 port=1 dbname=x user=y password=sekrit-unreachable', :'port', 'sekrit-unreachable');
-- malformed strings: libpq's reason is kept, quoted parts (which could hold the password) are not
SELECT pg_temp.try_register('malformed', 'host=127.0.0.1 password sekrit-malformed', :'port', 'sekrit-malformed');
SELECT pg_temp.try_register('malformed_uri', 'postgresql://u:sekrit-uri@[::1/db', :'port', 'sekrit-uri');
SELECT pg_temp.try_register('unknown_option', 'hots=127.0.0.1 password=sekrit-opt', :'port', 'sekrit-opt');
SELECT pg_temp.try_register('empty', '   ', :'port', 'sekrit-empty');
-- bad arguments
SELECT mcp.register_dataset(NULL, 'host=x');
SELECT mcp.register_dataset(' padded ', 'host=x');
SELECT mcp.register_dataset(repeat('n', 101), 'host=x');
SELECT mcp.register_dataset('x', 'host=x', 'oracle');

-- A URI works as well as keyword=value.
SELECT mcp.register_dataset('demo_uri', format('postgresql://mcp_demo_reader:%s@127.0.0.1:%s/mcp_demo', :'password', :'port')) AS id;
SELECT name, replace(connection, :'port', 'PORT') AS connection FROM mcp.datasets() ORDER BY id;

-- Nothing a caller can read holds the password.
SELECT count(*) AS rows_showing_password
  FROM mcp.datasets() d WHERE row_to_json(d)::text LIKE '%' || :'password' || '%';
SELECT count(*) AS ciphertexts_holding_password
  FROM mcp.datasets WHERE position(convert_to(:'password', 'UTF8') IN connection_ciphertext) > 0;

-- test_connection reports facts, or a structured failure without raising.
SELECT t ->> 'ok' AS ok, t ->> 'database' AS database, t ->> 'user' AS "user",
       t ->> 'readable_tables' AS readable_tables, t -> 'warnings' AS warnings
  FROM mcp.test_connection(1) AS t;
SELECT c ->> 'ok' AS ok, c ->> 'sqlstate' AS sqlstate, c ->> 'error' AS error
  FROM mcp.check_connection('host=127.0.0.1 port=1 dbname=x user=y password=z') AS c;
SELECT c ->> 'ok' AS ok, c ->> 'readable_tables' AS readable_tables
  FROM mcp.check_connection(:'demo_conninfo') AS c;
SELECT mcp.test_connection(999);

-- update_dataset: fields, types, unknown keys, and a new connection string.
SELECT name, description, dataset_type, use_cases, has_weight_column, weight_column_name, date_range_start
  FROM mcp.update_dataset(1, '{"description": "Smartphone and CTV panel", "dataset_type": "mixed",
      "use_cases": ["media planning", "app reach"], "has_weight_column": true,
      "weight_column_name": "weight", "date_range_start": "2026-07-01"}');
SELECT mcp.update_dataset(1, '{"colour": "blue", "status": "approved"}');
SELECT mcp.update_dataset(1, '{"date_range_start": "yesterday-ish"}');
SELECT mcp.update_dataset(1, '{"dataset_type": "wide"}');
SELECT mcp.update_dataset(1, '{"name": "demo_uri"}');
SELECT mcp.update_dataset(1, '[1, 2]');
SELECT mcp.update_dataset(1, '{"connection_string": 42}');
SELECT credential_version FROM mcp.datasets WHERE id = 1;
SELECT name, replace(connection, :'port', 'PORT') AS connection
  FROM mcp.update_dataset(1, jsonb_build_object('connection_string', :'demo_conninfo' || ' application_name=renamed'));
SELECT credential_version FROM mcp.datasets WHERE id = 1;
SELECT pg_temp.try_register('dummy', 'host=127.0.0.1 port=1', :'port', 'x') LIKE '08001%' AS still_validates;

-- delete
SELECT mcp.delete_dataset(2);
SELECT mcp.delete_dataset(2);
SELECT id, name FROM mcp.datasets();
