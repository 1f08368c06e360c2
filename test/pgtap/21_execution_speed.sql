-- Issue 12, speed without trading correctness: the pipelined transaction still applies the
-- statement timeout, the read-only transaction, ISO dates and the row cap; errors
-- in the middle of the pipeline leave nothing behind; every call is logged, with the client
-- family computed by the inlined mcp.client_tool; mcp.execution_phases reports the phases.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(34);

SELECT mcp.register_dataset('speed_demo', :'demo_conninfo') AS id \gset
SELECT count(mcp.set_dataset_status(:id, s)) AS moved FROM unnest(ARRAY['profiling', 'metadata_pending', 'approved']) AS s \gset
SET LOCAL mcp_analytics.cache_ttl = 0;
SELECT mcp.execution_phases(true) IS NOT NULL AS reset \gset

-- The settings of the pipeline reach the query.
SELECT is(mcp.execute_query(:id, $$SELECT current_setting('transaction_read_only') AS ro$$, 10, 'csv') ->> 'text',
          E'ro\non', 'the query runs in a read-only transaction');
SELECT matches(mcp.execute_query(:id, $$SELECT current_setting('DateStyle') AS ds$$, 10, 'csv') ->> 'text',
          E'^ds\n"ISO, ', 'with ISO dates');
SET LOCAL mcp_analytics.statement_timeout = '7s';
SELECT is(mcp.execute_query(:id, $$SELECT current_setting('statement_timeout') AS st$$, 10, 'csv') ->> 'text',
          E'st\n7s', 'with the statement timeout');
RESET mcp_analytics.statement_timeout;
SELECT is(mcp.execute_query(:id, $$SELECT 0.1::float8 AS f$$, 10, 'csv') ->> 'text', E'f\n0.1',
          'and floats as PostgreSQL writes them');
SELECT is((mcp.execute_query(:id, 'SELECT g FROM generate_series(1, 50) g GROUP BY g', 7) ->> 'row_count')::int, 7,
          'the row cap stops at max_rows');
SELECT is((mcp.execute_query(:id, 'SELECT g FROM generate_series(1, 50) g GROUP BY g', 7) ->> 'truncated')::boolean, true,
          'and knows there were more');
-- The statement runs whatever ends its text.
SELECT is(mcp.execute_query(:id, 'SELECT 1 AS one;', 10, 'csv') ->> 'text', E'one\n1', 'a trailing semicolon is fine');
SELECT is(mcp.execute_query(:id, E'SELECT 2 AS two ; -- done\n  ', 10, 'csv') ->> 'text', E'two\n2', 'and a comment after it');
SELECT is(mcp.execute_query(:id, 'SELECT 3 AS three -- note', 10, 'csv') ->> 'text', E'three\n3', 'and a trailing comment');
SELECT is(mcp.execute_query(:id, 'SELECT g, g AS g FROM generate_series(3, 1, -1) g ORDER BY g DESC', 2, 'csv') ->> 'text',
          E'g,g\n3,3\n2,2', 'repeated column names and the order are kept under the cap');
SELECT is(mcp.execute_query(:id, 'VALUES (1), (2)', 10, 'csv') ->> 'text', E'column1\n1\n2', 'VALUES runs');
SELECT is(mcp.execute_query(:id, 'WITH w AS (SELECT 5 AS five) SELECT five FROM w', 10, 'csv') ->> 'text', E'five\n5', 'and WITH');
SELECT is(mcp.execute_query(:id, $$SELECT 'x' AS lit$$, 10, 'csv') ->> 'text', E'lit\nx', 'an untyped literal reads as text');

-- A failure inside the pipeline fails the call with the remote SQLSTATE, and the next call
-- on the same dataset works (the failed connection is not reused half-way).
SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, 'SELECT 1/0'), '22012', NULL,
                 'an error in the FETCH is the remote error');
SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, 'SELECT * FROM no_such_table'), '42P01', NULL,
                 'an error in the DECLARE is the remote error');
SELECT throws_ok(format('SELECT mcp.execute_query(%s, %L)', :id, 'SELECT x FROM trap.writes x WHERE pg_catalog.txid_current() > 0'),
                 '42501', NULL, 'the guard still runs first');
SELECT is(mcp.execute_query(:id, 'SELECT 41 + 1 AS answer', 10, 'csv') ->> 'text', E'answer\n42',
          'the next query answers');
SELECT is(mcp.execute_query(:id, $$SELECT current_setting('transaction_read_only') AS ro$$, 10, 'csv') ->> 'text',
          E'ro\non', 'still read-only after a failure');
SELECT is((mcp.execute_multi_query(
              jsonb_build_array(jsonb_build_object('dataset_id', :id, 'sql', 'SELECT 1/0'),
                                jsonb_build_object('dataset_id', :id, 'sql', 'SELECT 2 AS two'),
                                jsonb_build_object('dataset_id', :id, 'sql', 'SELECT 3 AS three')), 2) ->> 'succeeded')::int,
          2, 'and only the failing query fails');

-- Every call is logged, failures included, with the client family.
SELECT is((SELECT count(*) FROM mcp.query_logs WHERE datasets_used = ARRAY[:id]), 21::bigint,
          'every call has its log row (18 single calls, 3 in the batch)');
SELECT is((SELECT count(*) FROM mcp.query_logs WHERE datasets_used = ARRAY[:id] AND NOT success), 4::bigint,
          'failed ones included');
SELECT is(mcp.client_tool('Claude Desktop', NULL), 'claude', 'client_tool: claude by name');
SELECT is(mcp.client_tool('my-agent', 'Mozilla/5.0 Cursor/1.2'), 'cursor', 'client_tool: by user agent, before the name');
SELECT is(mcp.client_tool(NULL, 'curl/8'), 'api', 'client_tool: api for a bare user agent');
SELECT is(mcp.client_tool(NULL, NULL), 'sql', 'client_tool: sql for nothing');
SELECT is((SELECT proconfig FROM pg_proc WHERE oid = 'mcp.client_tool(text,text)'::regprocedure), NULL,
          'client_tool has no SET clause, so it can be inlined');

-- The phases of those calls.
SELECT is((mcp.execution_phases() -> 'total' ->> 'calls')::int, 18, 'execution_phases counts each execute_query call');
SELECT ok((mcp.execution_phases() -> 'remote_pipeline' ->> 'calls')::int >= 6, 'and each pipeline that completed');
SELECT is((mcp.execution_phases(true) -> 'guard' ->> 'calls')::int > 0, true, 'reset returns the figures');
SELECT is((mcp.execution_phases() -> 'total' ->> 'calls')::int, 0, 'and zeroes them');

SELECT is(mcp.execution_phases(NULL), NULL, 'execution_phases(NULL) is NULL (strict)');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.execution_phases(boolean)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'mcp.execution_phases(boolean)', 'EXECUTE'),
          'execution_phases is for admins only');
SELECT ok(has_function_privilege('mcp_admin', 'mcp.execution_phases(boolean)', 'EXECUTE'), 'admins may read it');

-- A closed session is announced without its id (ids are credentials; any role may LISTEN).
SELECT ok(pg_get_functiondef('mcp._notify_sessions_closed()'::regprocedure) !~ '\mid\M',
          'the sessions_closed notification carries no session id');

SELECT * FROM finish();
ROLLBACK;
