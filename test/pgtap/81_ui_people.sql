-- The dashboard's admin pages in SQL: people (list, one person, unlock), who may use a
-- dataset, OAuth clients (list, tokens revoked, enabled again), the log's person filter and
-- OAuth client column; never a hash or secret in an answer; readers refused by PostgreSQL;
-- nobody demotes or disables themselves.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(53);
SET LOCAL client_min_messages = warning;
SELECT mcp.set_setting('auth.password_cost', '10') IS NOT NULL AS cheap \gset
SELECT mcp.set_setting('auth.max_failed_sign_ins', '2') IS NOT NULL AS two \gset

SELECT mcp.create_user('pat@example.com', 'Pat <b>Reader</b>', 'reader', 'pat password 1') AS pat_id \gset
SELECT mcp.create_user('quinn', 'Quinn Admin', 'admin', 'quinn password') AS quinn_id \gset
SELECT mcp.create_user('oidc.only', 'Only OpenID') AS oidc_id \gset
SELECT mcp.register_dataset('tap_pages_a', :'demo_conninfo') AS ds_a \gset
SELECT mcp.register_dataset('tap_pages_b', :'demo_conninfo') AS ds_b \gset
SELECT mcp.register_dataset('tap_pages_c', :'demo_conninfo') AS ds_c \gset
SELECT mcp.add_group_member('analysts', 'pat@example.com') AS joined \gset
SELECT mcp.grant_dataset(:ds_a, to_user => 'pat@example.com') AS g1 \gset
SELECT mcp.grant_dataset(:ds_b, to_group => 'analysts') AS g2 \gset
SELECT mcp.grant_dataset(:ds_a, to_group => 'analysts') AS g3 \gset
SELECT mcp.create_api_key('tap pages key', 'reader') AS key_secret \gset

-- People page --------------------------------------------------------------------------------
SELECT mcp.ui_people_page() AS people \gset
SELECT is(jsonb_array_length(:'people'::jsonb -> 'people'), (SELECT count(*)::integer FROM mcp.users), 'the people page lists every person');
SELECT is((SELECT p ->> 'display_name' FROM jsonb_array_elements(:'people'::jsonb -> 'people') p WHERE p ->> 'login' = 'pat@example.com'),
          'Pat <b>Reader</b>', 'names come as they are (the page escapes them)');
SELECT is((SELECT (p ->> 'datasets')::integer FROM jsonb_array_elements(:'people'::jsonb -> 'people') p WHERE p ->> 'login' = 'pat@example.com'),
          2, 'with the number of datasets granted to them or their groups, each once');
SELECT is((SELECT p -> 'groups' FROM jsonb_array_elements(:'people'::jsonb -> 'people') p WHERE p ->> 'login' = 'pat@example.com'),
          '["analysts"]'::jsonb, 'and their groups');
SELECT is((SELECT (p ->> 'has_password')::boolean FROM jsonb_array_elements(:'people'::jsonb -> 'people') p WHERE p ->> 'login' = 'oidc.only'),
          false, 'and whether they have a password');
SELECT ok(:'people' !~ '\$scrypt\$' AND :'people' !~ 'password_hash', 'never a password hash');
SELECT is((SELECT g FROM jsonb_array_elements(:'people'::jsonb -> 'groups') g WHERE g ->> 'name' = 'analysts'),
          '{"name": "analysts", "members": 1}'::jsonb, 'the groups with their member counts');

-- One person ---------------------------------------------------------------------------------
SELECT mcp.ui_person_page(:pat_id) AS pat \gset
SELECT is(:'pat'::jsonb #>> '{person,login}', 'pat@example.com', 'a person''s page names them');
SELECT ok(:'pat' !~ '\$scrypt\$' AND :'pat' !~ 'password_hash', 'never with the hash');
SELECT is((SELECT jsonb_agg(jsonb_build_object('name', d ->> 'name', 'direct', d -> 'direct', 'via', d -> 'via_groups') ORDER BY d ->> 'name')
             FROM jsonb_array_elements(:'pat'::jsonb -> 'datasets') d),
          '[{"name": "tap_pages_a", "direct": true, "via": ["analysts"]}, {"name": "tap_pages_b", "direct": false, "via": ["analysts"]}]'::jsonb,
          'their datasets say why: granted to them, through which groups');
SELECT ok(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(:'pat'::jsonb -> 'grantable') d WHERE (d ->> 'id')::integer = :ds_a)
          AND EXISTS (SELECT 1 FROM jsonb_array_elements(:'pat'::jsonb -> 'grantable') d WHERE (d ->> 'id')::integer = :ds_c),
          'the grant form offers what is not granted to them directly');
SELECT throws_ok('SELECT mcp.ui_person_page(987654)', 'P0002', NULL, 'an unknown person is not found');
SELECT throws_ok('SELECT mcp.ui_person_page(NULL)', 'P0002', NULL, 'nor is NULL');

-- Unlock -------------------------------------------------------------------------------------
SELECT error FROM mcp.ui_sign_in_password('pat@example.com', 'wrong password 1') \gset
SELECT error FROM mcp.ui_sign_in_password('pat@example.com', 'wrong password 2') \gset
SELECT ok((SELECT (p #>> '{person,locked_until}') IS NOT NULL FROM mcp.ui_person_page(:pat_id) p), 'a locked person shows as locked');
SELECT ok(mcp.unlock_user('PAT@example.com'), 'an admin unlocks them');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('pat@example.com', 'pat password 1')), NULL, 'and they sign in again with their password');
SELECT ok(NOT mcp.unlock_user('pat@example.com'), 'unlocking someone not locked changes nothing');
SELECT is((SELECT count(*) FROM mcp.auth_events WHERE event = 'user_unlocked' AND user_id = :pat_id), 1::bigint, 'the unlock is recorded');
SELECT is((SELECT created_by FROM mcp.users WHERE id = :pat_id), session_user::text, 'without a caller the creator on record is the database role');
SELECT throws_ok($$SELECT mcp.unlock_user('nobody')$$, 'P0002', NULL, 'an unknown login is refused');
SELECT is((SELECT jsonb_array_length(p -> 'events') BETWEEN 1 AND 10 FROM mcp.ui_person_page(:pat_id) p), true, 'the page shows their last sign-in events');

-- Who may use a dataset ------------------------------------------------------------------------
SELECT mcp.ui_dataset_access(:ds_a) AS access \gset
SELECT is((SELECT jsonb_agg(jsonb_build_array(g ->> 'kind', g ->> 'grantee')) FROM jsonb_array_elements(:'access'::jsonb -> 'grants') g),
          '[["user", "pat@example.com"], ["group", "analysts"]]'::jsonb, 'a dataset''s grants: people first, then groups, then keys');
SELECT ok(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(:'access'::jsonb -> 'people') p WHERE p ->> 'login' = 'pat@example.com')
          AND EXISTS (SELECT 1 FROM jsonb_array_elements(:'access'::jsonb -> 'people') p WHERE p ->> 'login' = 'quinn'),
          'the add form offers the people without a grant');
SELECT ok(NOT (:'access'::jsonb -> 'groups') ? 'analysts', 'and the groups without one');
SELECT ok(EXISTS (SELECT 1 FROM jsonb_array_elements(:'access'::jsonb -> 'api_keys') k WHERE k ->> 'name' = 'tap pages key'),
          'and the live API keys');
SELECT is((:'access'::jsonb ->> 'api_keys_need_grants')::boolean, false, 'and whether reader keys need grants');
SELECT ok(mcp.grant_dataset(:ds_a, to_api_key => 'tap pages key'), 'a key granted');
SELECT is((SELECT g ->> 'kind' FROM jsonb_array_elements(mcp.ui_dataset_access(:ds_a) -> 'grants') g ORDER BY g ->> 'kind' LIMIT 1), 'api_key',
          'is listed with the others');
SELECT throws_ok('SELECT mcp.ui_dataset_access(987654)', 'P0002', NULL, 'an unknown dataset is not found');

-- OAuth clients ------------------------------------------------------------------------------
SELECT client_id AS public_client FROM mcp.create_oauth_client('Tap public', ARRAY['https://client.example/cb']) \gset
SELECT client_id AS secret_client, client_secret AS the_secret FROM mcp.create_oauth_client('Tap <script>', ARRAY['http://localhost:8123/cb'], true) \gset
SELECT id AS public_row FROM mcp.oauth_clients WHERE client_id = :'public_client' \gset
SELECT mcp._person_principal(:pat_id, :public_row, 'reader', ARRAY['datasets:read']) AS pat_oauth_key \gset
INSERT INTO mcp.oauth_tokens (token_hash, kind, family, client_id, user_id, api_key_id, scopes, resource, expires_at)
SELECT sha256(convert_to('tap token ' || n, 'UTF8')), kind, gen_random_uuid(), :public_row, :pat_id, :pat_oauth_key,
       ARRAY['datasets:read'], 'https://mcp.example.test/mcp', now() + expires
  FROM (VALUES (1, 'access', interval '1 hour'), (2, 'refresh', interval '30 days'), (3, 'access', interval '-1 hour')) t(n, kind, expires);
SELECT mcp.ui_oauth_clients_page() AS clients \gset
SELECT is((SELECT jsonb_build_object('registration', c ->> 'registration', 'people', c -> 'people', 'active_tokens', c -> 'active_tokens',
                                     'confidential', c -> 'confidential')
             FROM jsonb_array_elements(:'clients'::jsonb -> 'clients') c WHERE c ->> 'client_id' = :'public_client'),
          '{"registration": "admin", "people": 1, "active_tokens": 2, "confidential": false}'::jsonb,
          'a client: how it was registered, its people and active (unexpired, unrevoked) tokens');
SELECT ok(:'clients' !~ 'secret_hash' AND position(:'the_secret' IN :'clients') = 0, 'never a client secret or its hash');
SELECT is((SELECT (c ->> 'active_tokens')::integer FROM jsonb_array_elements(mcp.ui_person_page(:pat_id) -> 'oauth') c
            WHERE c ->> 'client_id' = :'public_client'), 2, 'a person''s page lists their OAuth connections');
SELECT is(mcp.revoke_oauth_client_tokens(:'public_client'), 2, 'revoking a client''s tokens answers how many');
SELECT is(mcp.revoke_oauth_client_tokens(:'public_client'), 0, 'a second time none are left');
SELECT is((SELECT disabled FROM mcp.oauth_clients WHERE client_id = :'public_client'), false, 'the client stays enabled');
SELECT ok(EXISTS (SELECT 1 FROM mcp.auth_events WHERE event = 'tokens_revoked' AND oauth_client_id = :public_row), 'the revocation is recorded');
SELECT throws_ok($$SELECT mcp.revoke_oauth_client_tokens('mcpc_nope')$$, 'P0002', NULL, 'an unknown client is refused');
SELECT throws_ok($$SELECT mcp.revoke_oauth_client_tokens(repeat('x', 100000))$$, 'P0002', NULL, 'so is a huge id');
SELECT ok(mcp.disable_oauth_client(:'secret_client') AND mcp.enable_oauth_client(:'secret_client'), 'a disabled client is enabled again');
SELECT is((SELECT disabled FROM mcp.oauth_clients WHERE client_id = :'secret_client'), false, 'and is no longer disabled');
SELECT throws_ok($$SELECT mcp.enable_oauth_client(NULL)$$, 'P0002', NULL, 'enabling nothing is refused');

-- The query log by person and OAuth client -----------------------------------------------------
INSERT INTO mcp.query_logs (query_text, tool_used, user_id, oauth_client_id, api_key_id)
VALUES ('SELECT tap_pat_through_oauth', 'chatgpt', :pat_id, :public_row, :pat_oauth_key);
SELECT is((SELECT i ->> 'oauth_client_name' FROM jsonb_array_elements(mcp.search_query_logs('{"user": "pat@example.com"}') -> 'items') i
            WHERE i ->> 'query_text' = 'SELECT tap_pat_through_oauth'), 'Tap public', 'a log row names the OAuth client it came through');
SELECT results_eq($$SELECT login, calls FROM mcp.query_log_people() WHERE login = 'pat@example.com'$$,
                  $$VALUES ('pat@example.com'::text, 1::bigint)$$, 'the person filter offers the people in the log');
SELECT ok((mcp.ui_logs_page('{}') -> 'people') @> '[{"login": "pat@example.com"}]', 'the log page carries them');
SELECT set_config('mcp.caller', :'pat_oauth_key', true) IS NOT NULL AS as_pat \gset
SELECT is((SELECT array_agg(login) FROM mcp.query_log_people()), ARRAY['pat@example.com'], 'a reader person sees only themselves there');
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS as_nobody \gset

-- Nobody demotes or disables themselves ----------------------------------------------------------
SELECT mcp._person_principal(:quinn_id) AS quinn_key \gset
SELECT set_config('mcp.caller', :'quinn_key', true) IS NOT NULL AS as_quinn \gset
SELECT throws_ok($$SELECT mcp.disable_user('quinn')$$, '22023', 'you cannot disable your own account', 'an admin cannot disable themselves');
SELECT throws_ok($$SELECT mcp.set_user_role('quinn', 'reader')$$, '22023', 'you cannot take away your own admin role', 'nor demote themselves');
SELECT ok(mcp.set_user_role('pat@example.com', 'reader') AND mcp.disable_user('oidc.only'), 'but manages the others');
SELECT mcp.create_user('made.by.quinn', 'Made By Quinn') AS made_id \gset
SELECT ok(mcp.grant_dataset(:ds_c, to_user => 'made.by.quinn'), 'a grant by a person');
SELECT results_eq(format($$SELECT (SELECT created_by FROM mcp.users WHERE id = %s), (SELECT granted_by FROM mcp.dataset_grants WHERE dataset_id = %s)$$, :made_id, :ds_c),
                  $$VALUES ('quinn'::text, 'quinn'::text)$$, 'people and grants record the person who made them');
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS as_nobody \gset

-- Privileges -----------------------------------------------------------------------------------
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.ui_people_page()', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.ui_person_page(integer)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.ui_dataset_access(integer)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.ui_oauth_clients_page()', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.unlock_user(text)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.revoke_oauth_client_tokens(text)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.enable_oauth_client(text)', 'EXECUTE'),
          'readers run none of the admin page functions');
SELECT ok(has_function_privilege('mcp_admin', 'mcp.ui_people_page()', 'EXECUTE')
          AND has_function_privilege('mcp_reader', 'mcp.query_log_people(interval)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'mcp.query_log_people(interval)', 'EXECUTE'),
          'admins do; the log''s person list is for readers too; PUBLIC runs nothing');
SET LOCAL ROLE mcp_reader;
SELECT throws_ok('SELECT mcp.ui_people_page()', '42501', NULL, 'a reader session is refused by PostgreSQL');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
