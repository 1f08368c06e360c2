-- Dataset role mapping: people, groups and API keys mapped to roles of the dataset's own
-- server see what its row-level security gives those roles (rls.panelists, made by
-- test/run_tests.sh: metro rows for mcp_rls_metro, rural rows for mcp_rls_rural), through
-- execute_query, execute_multi_query and weighted_query; the result cache never hands one
-- role's answer to another; a pooled connection goes back without the role; unmapped callers
-- use the connection's role or are refused; hostile role names never reach the server.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(50);
SET LOCAL client_min_messages = warning;
SELECT mcp.set_setting('auth.password_cost', '10') IS NOT NULL AS cheap \gset

SELECT mcp.register_dataset('tap_roles_demo', :'demo_conninfo') AS ds \gset
SELECT set_config('tap.ds', :'ds', true) \gset
DO $$ BEGIN
    PERFORM mcp.set_dataset_status(current_setting('tap.ds')::integer, s)
       FROM unnest(ARRAY['profiling', 'metadata_pending', 'approved']) s;
END $$;
SELECT mcp.create_user('mia', 'Mia Metro', 'reader', 'mia password 1') AS mia_id \gset
SELECT mcp.create_user('rui', 'Rui Rural', 'reader', 'rui password 1') AS rui_id \gset
SELECT mcp.create_user('gus', 'Gus Groups', 'reader', 'gus password 1') AS gus_id \gset
SELECT mcp.grant_dataset(:ds, to_user => login) FROM unnest(ARRAY['mia', 'rui', 'gus']) login;
SELECT api_key_id AS mia_key FROM mcp.ui_sign_in_password('mia', 'mia password 1') \gset
SELECT api_key_id AS rui_key FROM mcp.ui_sign_in_password('rui', 'rui password 1') \gset
SELECT api_key_id AS gus_key FROM mcp.ui_sign_in_password('gus', 'gus password 1') \gset
SELECT mcp.create_api_key('tap roles key', 'reader') AS key_secret \gset
SELECT api_key_id AS plain_key FROM mcp.authenticate(:'key_secret') \gset

-- What each role should see, counted by the connection's own role on the unprotected table.
-- weighted_query's base counts the rows with a usable weight.
SELECT (mcp.execute_query(:ds, $$SELECT count(*) FILTER (WHERE town_class = 'metro') AS metro,
                                        count(*) FILTER (WHERE town_class = 'rural') AS rural,
                                        count(*) FILTER (WHERE town_class = 'metro' AND weight > 0) AS metro_weighted,
                                        count(*) FILTER (WHERE town_class = 'rural' AND weight > 0) AS rural_weighted
                                   FROM panelists$$,
                          10, 'json') -> 'rows' -> 0) AS expected \gset
SELECT (:'expected'::jsonb ->> 0)::bigint AS metro_n, (:'expected'::jsonb ->> 1)::bigint AS rural_n,
       (:'expected'::jsonb ->> 2)::bigint AS metro_w, (:'expected'::jsonb ->> 3)::bigint AS rural_w \gset
SELECT ok(:metro_n > 0 AND :rural_n > 0 AND :metro_n <> :rural_n, 'the panel has metro and rural panelists in different numbers');

-- Admin functions -------------------------------------------------------------------------
SELECT ok(mcp.map_dataset_role(:ds, 'mcp_rls_metro', to_user => 'mia'), 'a person is mapped to a database role');
SELECT ok(NOT mcp.map_dataset_role(:ds, 'mcp_rls_metro', to_user => 'mia'), 'mapping again changes nothing');
SELECT ok(mcp.map_dataset_role(:ds, 'mcp_rls_rural', to_user => 'rui'), 'another to another role');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, 'x"; RESET ROLE; --', to_user => 'mia')$$, :ds), '42602', NULL,
                 'a role name with quotes and semicolons is refused');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, 'Robert''); DROP TABLE rls.panelists;--', to_user => 'mia')$$, :ds), '42602', NULL,
                 'so is any other injection attempt');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, '', to_user => 'mia')$$, :ds), '42602', NULL, 'an empty name');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, NULL, to_user => 'mia')$$, :ds), '42602', NULL, 'a NULL one');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, repeat('r', 64), to_user => 'mia')$$, :ds), '42602', NULL,
                 'a name longer than PostgreSQL''s 63 bytes');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, 'mcp_rls_metro')$$, :ds), '22023', NULL, 'a mapping names one principal');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, 'mcp_rls_metro', to_user => 'mia', to_group => 'g')$$, :ds), '22023', NULL,
                 'exactly one');
SELECT throws_ok($$SELECT mcp.map_dataset_role(999999, 'mcp_rls_metro', to_user => 'mia')$$, 'P0002', NULL, 'of an existing dataset');
SELECT throws_ok(format($$SELECT mcp.map_dataset_role(%s, 'mcp_rls_metro', to_user => 'nobody')$$, :ds), 'P0002', NULL, 'and an existing person');
SELECT throws_ok(format($$SELECT mcp.set_dataset_role_defaults(%s, 'bad name')$$, :ds), '42602', NULL, 'the default role is checked alike');
SELECT results_eq(format('SELECT mapped_kind, mapped_name, db_role FROM mcp.dataset_role_mappings(%s)', :ds),
                  $$VALUES ('user', 'mia', 'mcp_rls_metro'), ('user', 'rui', 'mcp_rls_rural')$$, 'mcp.dataset_role_mappings lists them');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.map_dataset_role(integer, text, text, text, text)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.set_dataset_role_defaults(integer, text, boolean)', 'EXECUTE')
          AND has_function_privilege('mcp_admin', 'mcp.map_dataset_role(integer, text, text, text, text)', 'EXECUTE'),
          'only admins map roles');

-- Two people, two roles, two answers --------------------------------------------------------
SELECT set_config('mcp.caller', :'mia_key', true) IS NOT NULL AS as_mia \gset
SELECT mcp.execute_query(:ds, 'SELECT count(*) AS n FROM rls.panelists', 10, 'json') AS mia_first \gset
SELECT is((:'mia_first'::jsonb -> 'rows' -> 0 ->> 0)::bigint, :metro_n::bigint, 'the person mapped to the metro role counts the metro rows');
SELECT is((:'mia_first'::jsonb ->> 'cached')::boolean, false, 'from the dataset');
SELECT is((mcp.execute_query(:ds, 'SELECT count(*) AS n FROM rls.panelists', 10, 'json') ->> 'cached')::boolean, true,
          'asked again, from the cache');
SELECT is((mcp.execute_query(:ds, 'SELECT min(town_class) AS lo, max(town_class) AS hi FROM rls.panelists', 10, 'json') -> 'rows' -> 0),
          '["metro", "metro"]'::jsonb, 'and sees no other town class');
SELECT set_config('mcp.caller', :'rui_key', true) IS NOT NULL AS as_rui \gset
SELECT mcp.execute_query(:ds, 'SELECT count(*) AS n FROM rls.panelists', 10, 'json') AS rui_first \gset
SELECT is((:'rui_first'::jsonb -> 'rows' -> 0 ->> 0)::bigint, :rural_n::bigint, 'the same query of the person mapped to the rural role counts the rural rows');
SELECT is((:'rui_first'::jsonb ->> 'cached')::boolean, false, 'not the metro answer from the cache');
SELECT is((mcp.execute_multi_query(jsonb_build_array(jsonb_build_object('dataset_id', :ds, 'sql', 'SELECT count(*) AS n FROM rls.panelists',
                                                                         'format', 'json'))) -> 'results' -> 0 -> 'rows' -> 0 ->> 0)::bigint,
          :rural_n::bigint, 'execute_multi_query runs as the mapped role too');
SELECT mcp.weighted_query(:ds, '{"measure": "mean", "metric": "age", "user_table": "rls.panelists", "user_id_column": "user_id", "weight_column": "weight"}') AS rui_weighted \gset
SELECT set_config('mcp.caller', :'mia_key', true) IS NOT NULL AS as_mia2 \gset
SELECT mcp.weighted_query(:ds, '{"measure": "mean", "metric": "age", "user_table": "rls.panelists", "user_id_column": "user_id", "weight_column": "weight"}') AS mia_weighted \gset
SELECT is((:'mia_weighted'::jsonb -> 'rows' -> 0 ->> 'base')::bigint, :metro_w::bigint, 'weighted_query''s base is the metro rows for the metro person');
SELECT is((:'rui_weighted'::jsonb -> 'rows' -> 0 ->> 'base')::bigint, :rural_w::bigint, 'and the rural rows for the rural one');

-- The connection's own role -----------------------------------------------------------------
SELECT set_config('mcp.caller', :'plain_key', true) IS NOT NULL AS as_key \gset
SELECT throws_like(format($$SELECT mcp.execute_query(%s, 'SELECT count(*) AS n FROM rls.panelists')$$, :ds),
                   '%permission denied for schema rls%',
                   'an unmapped caller queries as the connection''s own role, which has no rights on the protected schema: no role leaked from the pooled connection');
SELECT ok(mcp.set_dataset_role_defaults(:ds, 'mcp_rls_rural'), 'a dataset gets a default role');
SELECT is((mcp.execute_query(:ds, 'SELECT count(*) AS n FROM rls.panelists', 10, 'json') -> 'rows' -> 0 ->> 0)::bigint, :rural_n::bigint,
          'which unmapped callers then query as');
SELECT ok(mcp.set_dataset_role_defaults(:ds, NULL, mapping_required => true), 'a dataset requires a mapping');
SELECT throws_ok(format($$SELECT mcp.execute_query(%s, 'SELECT 1 AS one')$$, :ds), '42501',
                 'dataset "tap_roles_demo": dataset ' || :ds || ' runs queries only as a mapped database role, and no mapping names this caller',
                 'then an unmapped caller is refused');
SELECT throws_ok(format($$SELECT mcp.weighted_query(%s, '{"measure": "mean", "metric": "age"}')$$, :ds), '42501', NULL, 'by weighted_query too');
SELECT is((SELECT count(*) FROM mcp.query_logs
            WHERE :ds = ANY (datasets_used) AND NOT success AND error_sqlstate = '42501'
              AND error_message LIKE '%runs queries only as a mapped database role%'),
          2::bigint, 'both refusals are in the query log');
SELECT results_eq(format('SELECT mapped_kind, db_role FROM mcp.dataset_role_mappings(%s) WHERE mapped_name IS NULL', :ds),
                  $$VALUES ('unmapped_refused', NULL::text)$$, 'the listing says unmapped callers are refused');
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS nobody \gset
SELECT throws_like(format($$SELECT mcp.execute_query(%s, 'SELECT count(*) AS n FROM rls.panelists')$$, :ds),
                   '%permission denied for schema rls%',
                   'a direct SQL call without a caller keeps the connection''s role, which may not read rls');

-- Groups, keys, and roles the connection cannot use -------------------------------------------
SELECT ok(mcp.add_group_member('metro team', 'gus') AND mcp.map_dataset_role(:ds, 'mcp_rls_metro', to_group => 'metro team'), 'a group is mapped');
SELECT set_config('mcp.caller', :'gus_key', true) IS NOT NULL AS as_gus \gset
SELECT is((mcp.execute_query(:ds, 'SELECT count(*) AS n FROM rls.panelists', 10, 'json') -> 'rows' -> 0 ->> 0)::bigint, :metro_n::bigint,
          'a member queries as the group''s role');
SELECT ok(mcp.add_group_member('rural team', 'gus') AND mcp.map_dataset_role(:ds, 'mcp_rls_rural', to_group => 'rural team'), 'a second group, another role');
SELECT throws_like(format($$SELECT mcp.execute_query(%s, 'SELECT 1 AS one')$$, :ds), '%groups of this caller map to several database roles%',
                   'two groups with two roles choose none');
SELECT ok(mcp.map_dataset_role(:ds, 'mcp_rls_rural', to_user => 'gus'), 'the person''s own mapping settles it');
SELECT is((mcp.execute_query(:ds, 'SELECT count(*) AS n FROM rls.panelists', 10, 'json') -> 'rows' -> 0 ->> 0)::bigint, :rural_n::bigint,
          'a person''s mapping comes before their groups''');
SELECT ok(mcp.map_dataset_role(:ds, 'mcp_rls_stranger', to_user => 'gus'), 'a role the connection''s user was not granted');
SELECT throws_ok(format($$SELECT mcp.execute_query(%s, 'SELECT count(*) AS n FROM rls.panelists')$$, :ds), '42501',
                 'dataset "tap_roles_demo" maps this caller to database role "mcp_rls_stranger", which its connection cannot use',
                 'is a clear error naming the dataset and the mapping');
SELECT ok((SELECT NOT success AND error_message LIKE '%mcp_rls_stranger%cannot use%' FROM mcp.query_logs ORDER BY id DESC LIMIT 1),
          'logged in mcp.query_logs');
SELECT ok(mcp.map_dataset_role(:ds, 'no_such_role', to_user => 'gus'), 'a role that does not exist');
SELECT throws_like(format($$SELECT mcp.weighted_query(%s, '{"measure": "mean", "metric": "age", "user_table": "rls.panelists", "user_id_column": "user_id", "weight_column": "weight"}')$$, :ds),
                   '%maps this caller to database role "no_such_role", which its connection cannot use%', 'is the same error in weighted_query');
SELECT ok(mcp.map_dataset_role(:ds, 'mcp_rls_no_select', to_user => 'gus'), 'a role without SELECT on the table');
SELECT throws_like(format($$SELECT mcp.execute_query(%s, 'SELECT count(*) AS n FROM rls.panelists')$$, :ds), '%permission denied for table panelists%',
                   'is PostgreSQL''s permission error');
SELECT ok(mcp.unmap_dataset_role(:ds, from_user => 'gus') AND NOT mcp.unmap_dataset_role(:ds, from_user => 'gus'), 'a mapping is taken back once');
SELECT ok(mcp.map_dataset_role(:ds, 'mcp_rls_metro', to_api_key => 'tap roles key'), 'an API key is mapped');
SELECT set_config('mcp.caller', :'plain_key', true) IS NOT NULL AS as_key2 \gset
SELECT is((mcp.execute_query(:ds, 'SELECT count(*) AS n FROM rls.panelists', 10, 'json') -> 'rows' -> 0 ->> 0)::bigint, :metro_n::bigint,
          'and queries as its role');
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS nobody2 \gset
SELECT * FROM finish();
ROLLBACK;
