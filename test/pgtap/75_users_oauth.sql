-- People, per-user dataset access and the OAuth authorization server: passwords stored as
-- scrypt hashes, lockout, grants applied in every listing and query path (an ungranted
-- dataset looks missing), and the whole OAuth flow with its refusals.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(169);
SET LOCAL client_min_messages = warning;
-- Cheap hashes for the test; the shipped cost is 15.
SELECT mcp.set_setting('auth.password_cost', '10') IS NOT NULL AS cheap \gset
SELECT mcp.set_setting('auth.max_failed_sign_ins', '3') IS NOT NULL AS three \gset

-- Passwords -----------------------------------------------------------------------------
SELECT mcp._hash_password('correct horse battery', 10) AS hash1 \gset
SELECT matches(:'hash1'::text, '^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$', 'a password hash names scrypt, its cost, salt and hash');
SELECT isnt(mcp._hash_password('correct horse battery', 10), :'hash1', 'every hash has its own salt');
SELECT ok(mcp._verify_password('correct horse battery', :'hash1'), 'the right password verifies');
SELECT ok(NOT mcp._verify_password('correct horse batterY', :'hash1'), 'a wrong one does not');
SELECT ok(NOT mcp._verify_password('x', '!'), 'a stored text that is no hash never matches');
SELECT ok(NOT mcp._verify_password('x', '$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='),
          'a forged row asking for a huge cost is refused, not computed');
SELECT throws_ok($$SELECT mcp._hash_password('x', 40)$$, '22023', NULL, 'a cost outside 10..20 is refused');
SELECT throws_ok($$SELECT mcp._hash_password(repeat('x', 2000), 10)$$, '22023', NULL, 'an oversized password is refused');

-- People ----------------------------------------------------------------------------------
SELECT mcp.create_user('Alice@Example.com', 'Alice Analyst', 'reader', 'alice password 1') AS alice_id \gset
SELECT mcp.create_user('bob', 'Bob Boss', 'admin', 'bob password 12') AS bob_id \gset
SELECT mcp.create_user('carol', 'Carol', 'reader', 'carol password 1') AS carol_id \gset
SELECT is((SELECT login FROM mcp.users WHERE id = :alice_id), 'alice@example.com', 'logins are kept in lower case');
SELECT ok((SELECT password_hash LIKE '$scrypt$%' FROM mcp.users WHERE id = :alice_id), 'only an scrypt hash of the password is stored');
SELECT is((SELECT count(*) FROM mcp.users u, jsonb_each_text(to_jsonb(u)) f WHERE position('alice password 1' IN f.value) > 0),
          0::bigint, 'no column holds the password');
SELECT throws_ok($$SELECT mcp.create_user('alice@example.com', 'Again')$$, '23505', NULL, 'logins are unique');
SELECT throws_ok($$SELECT mcp.create_user('dave', 'Dave', 'reader', 'short')$$, '22023', NULL, 'a password has at least 10 characters');
SELECT throws_ok($$SELECT mcp.create_user('dave', 'Dave', 'owner')$$, '22023', NULL, 'the role is reader or admin');
SELECT throws_ok($$SELECT mcp.create_user('bad login!', 'Dave')$$, '22023', NULL, 'a login is letters, digits and . _ @ + -');
SELECT throws_ok($$SELECT mcp.create_user('dave', E'Dave\n')$$, '22023', NULL, 'a display name has no control characters');
SELECT is((SELECT has_password FROM mcp.users() WHERE login = 'bob'), true, 'mcp.users() tells whether a password is set, never the hash');

-- Dashboard sign-in and lockout -------------------------------------------------------------
SELECT session_token, coalesce(error, '') AS error FROM mcp.ui_sign_in_password('ALICE@example.com ', 'alice password 1', 'tap browser') \gset alice_ui_
SELECT ok(:'alice_ui_error' = '' AND :'alice_ui_session_token' ~ '^[0-9a-f]{64}$', 'a person signs in to the dashboard with login and password');
SELECT results_eq(format($$SELECT key_name, role FROM mcp.ui_session(%L)$$, :'alice_ui_session_token'),
                  $$VALUES ('Alice Analyst', 'reader')$$, 'the session is shown under the person''s name, with their role');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('alice@example.com', 'wrong password')), 'the login or password is wrong', 'a wrong password is refused');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('nobody', 'wrong password')), 'the login or password is wrong', 'an unknown login gets the same answer');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('alice@example.com', NULL)), 'the login or password is wrong', 'so does a missing password');
SELECT is((SELECT error FROM mcp.ui_sign_in_password(repeat('a', 5000), 'x')), 'the login or password is wrong', 'and a huge login');
SELECT is((SELECT failed_sign_ins FROM mcp.users WHERE id = :alice_id), 1, 'failures are counted');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('alice@example.com', 'wrong again!')), 'the login or password is wrong', 'the second failure');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('alice@example.com', 'wrong thrice')), 'the login or password is wrong', 'the third failure');
SELECT ok((SELECT locked_until > now() FROM mcp.users WHERE id = :alice_id), 'locks the login');
SELECT matches((SELECT error FROM mcp.ui_sign_in_password('alice@example.com', 'alice password 1')), '^too many failed sign-ins',
               'while locked even the right password is refused');
SELECT is((SELECT count(*) FROM mcp.auth_events WHERE event = 'sign_in_refused' AND user_id = :alice_id), 4::bigint,
          'every refusal is a row in mcp.auth_events');
SELECT ok(mcp.set_password('alice@example.com', 'alice password 2'), 'an admin sets a new password');
SELECT is_empty(format($$SELECT * FROM mcp.ui_session(%L)$$, :'alice_ui_session_token'), 'which ends the old dashboard sessions');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('alice@example.com', 'alice password 2')), NULL, 'and lifts the lockout');

-- Grants ----------------------------------------------------------------------------------
SELECT mcp.register_dataset('tap_users_demo', :'demo_conninfo') AS ds \gset
SELECT mcp.register_dataset('tap_users_other', :'demo_conninfo') AS ds2 \gset
SELECT set_config('tap.ds', :'ds' || ',' || :'ds2', true) \gset
DO $$ BEGIN
    PERFORM mcp.set_dataset_status(d::integer, s)
       FROM unnest(string_to_array(current_setting('tap.ds'), ',')) d, unnest(ARRAY['profiling', 'metadata_pending', 'approved']) s;
END $$;
SELECT ok(mcp.grant_dataset(:ds, to_user => 'alice@example.com'), 'a dataset is granted to a person');
SELECT ok(NOT mcp.grant_dataset(:ds, to_user => 'alice@example.com'), 'granting twice changes nothing');
SELECT ok(mcp.add_group_member('panel team', 'carol'), 'a person joins a group (made on first use)');
SELECT ok(mcp.grant_dataset(:ds2, to_group => 'panel team'), 'a dataset is granted to a group');
SELECT throws_ok($$SELECT mcp.grant_dataset(1, to_user => 'alice@example.com', to_group => 'panel team')$$, '22023', NULL, 'a grant names one grantee');
SELECT throws_ok($$SELECT mcp.grant_dataset(999999, to_user => 'carol')$$, 'P0002', NULL, 'to an existing dataset');
SELECT throws_ok($$SELECT mcp.grant_dataset(1, to_group => 'no such group')$$, 'P0002', NULL, 'and an existing group');

SELECT api_key_id AS alice_key FROM mcp.ui_sign_in_password('alice@example.com', 'alice password 2') \gset
SELECT api_key_id AS carol_key FROM mcp.ui_sign_in_password('carol', 'carol password 1') \gset
SELECT api_key_id AS bob_key FROM mcp.ui_sign_in_password('bob', 'bob password 12') \gset
SELECT mcp.create_api_key('tap users key', 'reader') AS key_secret \gset
SELECT api_key_id AS plain_key FROM mcp.authenticate(:'key_secret') \gset

SELECT set_config('mcp.caller', :'alice_key', true) IS NOT NULL AS as_alice \gset
SELECT set_eq($$SELECT id FROM mcp.datasets() WHERE name LIKE 'tap_users_%'$$, ARRAY[:ds], 'a person lists only the datasets granted to them');
SELECT set_eq($$SELECT (d ->> 'id')::integer FROM jsonb_array_elements(mcp.call_tool('list_datasets') -> 'structuredContent' -> 'datasets') d
                WHERE d ->> 'name' LIKE 'tap_users_%'$$, ARRAY[:ds], 'so does list_datasets');
SELECT ok(NOT EXISTS (SELECT 1 FROM mcp.mcp_resources() WHERE uri LIKE 'mcp-analytics://datasets/' || :ds2 || '/%'), 'and resources/list');
SELECT ok((SELECT description FROM mcp.mcp_tools() WHERE name = 'execute_query') NOT LIKE '%tap_users_other%', 'and the tool descriptions');
SELECT ok(mcp.context(1) NOT LIKE '%tap_users_other%' AND mcp.context(1) LIKE '%tap_users_demo%', 'and the level-1 context');
-- Her level-1 context is cached per key; a new role shows at once (the cache goes with it).
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS nobody_for_role \gset
SELECT ok(mcp.set_user_role('alice@example.com', 'admin'), 'alice made an admin');
SELECT set_config('mcp.caller', :'alice_key', true) IS NOT NULL AS as_admin_alice \gset
SELECT ok(mcp.context(1) LIKE '%tap_users_other%', 'her level-1 context now lists every dataset');
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS nobody_for_role2 \gset
SELECT ok(mcp.set_user_role('alice@example.com', 'reader'), 'a reader again');
SELECT set_config('mcp.caller', :'alice_key', true) IS NOT NULL AS as_alice_again \gset
SELECT ok(mcp.context(1) NOT LIKE '%tap_users_other%', 'and only her datasets again');
SELECT throws_ok(format('SELECT mcp.dataset(%s)', :ds2), 'P0002', 'dataset ' || :ds2 || ' does not exist', 'an ungranted dataset does not exist for them');
SELECT throws_ok('SELECT mcp.dataset(999999)', 'P0002', 'dataset 999999 does not exist', 'exactly as a missing one');
SELECT throws_ok(format('SELECT mcp.context(2, %s)', :ds2), 'P0002', 'dataset ' || :ds2 || ' does not exist', 'describe (level 2) refuses it alike');
SELECT throws_ok(format($$SELECT mcp.read_resource('mcp-analytics://datasets/%s/overview')$$, :ds2), '42704', NULL, 'resources/read too');
SELECT throws_ok(format($$SELECT mcp.execute_query(%s, 'SELECT 1 AS one')$$, :ds2), 'P0002', 'dataset ' || :ds2 || ' does not exist', 'execute_query refuses it as missing');
SELECT throws_ok(format($$SELECT mcp.weighted_query(%s, '{"measures": [{"kind": "reach"}]}')$$, :ds2), 'P0002', NULL, 'so does weighted_query');
-- (logged by a session of its own, which cannot see this test's uncommitted people: the
-- caller's key row id is what it records)
SELECT results_eq(format($$SELECT error_sqlstate, api_key_id, query_text LIKE '%%measures%%' FROM mcp.query_logs
                           WHERE query_type = 'weighted' AND %s = ANY (datasets_used) AND NOT success$$, :ds2),
                  format($$VALUES ('P0002', %s, true)$$, :alice_key), 'and the refusal is logged, naming the caller and the spec');
SELECT is((mcp.call_tool('describe_dataset', jsonb_build_object('dataset_id', :ds2)) ->> 'isError')::boolean, true, 'describe_dataset answers an error');
SELECT is((mcp.call_tool('execute_query', jsonb_build_object('dataset_id', :ds, 'sql', 'SELECT count(*) AS n FROM panelists')) ->> 'isError')::boolean,
          false, 'a granted dataset is queried');
SELECT results_eq($$SELECT user_id, oauth_client_id IS NULL FROM mcp.query_logs ORDER BY id DESC LIMIT 1$$,
                  format('VALUES (%s, true)', :alice_id), 'the query log names the person');
-- A failed query is logged by a session of its own (it must outlive the rollback), which
-- cannot see this test's uncommitted people: it records the caller's row id.
SELECT set_config('tap.alice_key', :'alice_key', true) IS NOT NULL AS kept \gset
DO $$ BEGIN  -- each statement of a volatile function sees what committed before it
    FOR i IN 1..100 LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM mcp.query_logs WHERE api_key_id = current_setting('tap.alice_key')::integer);
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT ok(EXISTS (SELECT 1 FROM mcp.query_logs WHERE api_key_id = :alice_key AND NOT success
                     AND datasets_used = ARRAY[:ds2]::integer[]),
          'a refused query is logged too, with the caller');

INSERT INTO mcp.query_logs (query_text, tool_used) VALUES ('SELECT someone_elses_query', 'sql');
SELECT ok(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(mcp.search_query_logs() -> 'items') i WHERE i ->> 'query_text' = 'SELECT someone_elses_query')
          AND EXISTS (SELECT 1 FROM jsonb_array_elements(mcp.search_query_logs() -> 'items') i WHERE (i ->> 'user_id')::integer = :alice_id),
          'a reader person reads only their own query-log rows');
SELECT throws_ok(format('SELECT mcp.query_log(%s)', (SELECT max(id) FROM mcp.query_logs WHERE query_text = 'SELECT someone_elses_query')),
                 'P0002', NULL, 'and another''s row does not exist for them');
SELECT set_config('mcp.caller', :'carol_key', true) IS NOT NULL AS as_carol \gset
SELECT set_eq($$SELECT id FROM mcp.datasets() WHERE name LIKE 'tap_users_%'$$, ARRAY[:ds2], 'a group member sees what the group was granted');
SELECT set_config('mcp.caller', :'bob_key', true) IS NOT NULL AS as_bob \gset
SELECT set_eq($$SELECT id FROM mcp.datasets() WHERE name LIKE 'tap_users_%'$$, ARRAY[:ds, :ds2], 'an admin sees everything');
SELECT ok(EXISTS (SELECT 1 FROM jsonb_array_elements(mcp.search_query_logs(jsonb_build_object('user', 'Alice@example.com')) -> 'items') i
                   WHERE i ->> 'user_login' = 'alice@example.com'), 'an admin filters the log by person');
SELECT ok(EXISTS (SELECT 1 FROM jsonb_array_elements(mcp.search_query_logs() -> 'items') i WHERE i ->> 'query_text' = 'SELECT someone_elses_query'),
          'and reads everyone''s rows');
SELECT is(mcp.search_query_logs('{"user": "nobody@example.com"}') ->> 'total', '0', 'an unknown person matches nothing');
SELECT set_config('mcp.caller', :'plain_key', true) IS NOT NULL AS as_key \gset
SELECT set_eq($$SELECT id FROM mcp.datasets() WHERE name LIKE 'tap_users_%'$$, ARRAY[:ds, :ds2], 'a reader API key sees every dataset by default');
SELECT mcp.set_setting('access.api_keys_need_grants', 'true') IS NOT NULL AS strict \gset
SELECT is_empty($$SELECT id FROM mcp.datasets() WHERE name LIKE 'tap_users_%'$$, 'with access.api_keys_need_grants it sees only its grants');
SELECT ok(mcp.grant_dataset(:ds2, to_api_key => 'tap users key'), 'a dataset is granted to an API key');
SELECT set_eq($$SELECT id FROM mcp.datasets() WHERE name LIKE 'tap_users_%'$$, ARRAY[:ds2], 'which then sees it');
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS nobody \gset
SELECT mcp.reset_setting('access.api_keys_need_grants') IS NOT NULL AS reset \gset
SELECT ok(mcp.revoke_dataset(:ds, from_user => 'alice@example.com'), 'a grant is taken back');
SELECT ok(NOT mcp._may_use_dataset(:ds, :alice_key), 'and the dataset is gone for the person');
SELECT ok(mcp.grant_dataset(:ds, to_user => 'alice@example.com'), '(granted again for the OAuth tests)');

-- OAuth: clients ----------------------------------------------------------------------------
SELECT set_config('tap.resource', 'https://mcp.example.test/mcp', true) AS resource \gset
SELECT set_config('tap.issuer', 'https://mcp.example.test', true) AS issuer \gset
SELECT mcp.oauth_register('{"client_name": "Tap Client", "redirect_uris": ["http://127.0.0.1:7777/callback"], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "refresh_token"]}') AS reg \gset
SELECT is((:'reg'::jsonb ->> 'status')::integer, 201, 'dynamic registration answers 201');
SELECT ok(:'reg'::jsonb #>> '{body,client_id}' LIKE 'mcpc_%' AND NOT (:'reg'::jsonb -> 'body') ? 'client_secret', 'with a client id and, for a public client, no secret');
SELECT :'reg'::jsonb #>> '{body,client_id}' AS client \gset
SELECT is(mcp.oauth_register('{"redirect_uris": ["http://evil.example/cb"]}') #>> '{body,error}', 'invalid_redirect_uri', 'a plain-http redirect URI off the loopback is refused');
SELECT is(mcp.oauth_register('{"redirect_uris": ["https://ok.example/cb#frag"]}') #>> '{body,error}', 'invalid_redirect_uri', 'so is one with a fragment');
SELECT is(mcp.oauth_register('{"redirect_uris": "https://ok.example/cb"}') #>> '{body,error}', 'invalid_redirect_uri', 'redirect_uris must be an array');
SELECT is(mcp.oauth_register('{"redirect_uris": ["https://ok.example/cb"], "grant_types": ["client_credentials"]}') #>> '{body,error}', 'invalid_client_metadata', 'grant types other than code and refresh are refused');
SELECT is(mcp.oauth_register('[1, 2]') #>> '{body,error}', 'invalid_client_metadata', 'a body that is not an object is refused');
SELECT is((mcp.oauth_register('{"client_name": "Confidential", "redirect_uris": ["https://ok.example/cb"], "token_endpoint_auth_method": "client_secret_post"}') #>> '{body,client_secret}') LIKE 'mcpcs_%',
          true, 'a confidential client gets a secret, this once');
SELECT is((SELECT count(*) FROM mcp.oauth_clients c, jsonb_each_text(to_jsonb(c)) f WHERE f.value LIKE 'mcpcs_%'), 0::bigint, 'only its hash is stored');
SELECT client_id, coalesce(client_secret, '') AS client_secret FROM mcp.create_oauth_client('Pre-registered', ARRAY['https://chatgpt.com/connector_platform_oauth_redirect']) \gset pre_
SELECT ok(:'pre_client_id' LIKE 'mcpc_%' AND :'pre_client_secret' = '', 'an admin registers a public client by hand');
SELECT throws_ok($$SELECT mcp.create_oauth_client('Bad', ARRAY['ftp://x'])$$, '22023', NULL, 'with allowed redirect URIs only');

-- OAuth: metadata -------------------------------------------------------------------------
SELECT is(mcp.oauth_server_metadata(:'issuer') -> 'code_challenge_methods_supported', '["S256"]', 'the server metadata offers PKCE S256 only');
SELECT is(mcp.oauth_server_metadata(:'issuer') ->> 'authorization_response_iss_parameter_supported', 'true', 'and iss in the authorization response');
SELECT is(mcp.oauth_resource_metadata(:'resource', :'issuer') ->> 'resource', :'resource', 'the resource metadata names the MCP endpoint');

-- OAuth: the flow ---------------------------------------------------------------------------
-- PKCE pair of RFC 7636 appendix B.
SELECT 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk' AS verifier, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM' AS challenge \gset
SELECT jsonb_build_object('response_type', 'code', 'client_id', :'client', 'redirect_uri', 'http://127.0.0.1:7777/callback',
                          'code_challenge', :'challenge', 'code_challenge_method', 'S256', 'state', 'st&ate',
                          'scope', 'datasets:read datasets:query admin', 'resource', :'resource') AS params \gset
SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') AS az \gset
SELECT is(:'az'::jsonb ->> 'action', 'sign_in', '/authorize shows the sign-in page');
SELECT is(:'az'::jsonb ->> 'client_name', 'Tap Client', 'naming the client');
SELECT :'az'::jsonb ->> 'request' AS request \gset
SELECT is(mcp.oauth_authorize(:'params'::jsonb || '{"redirect_uri": "http://127.0.0.1:7777/other"}', :'issuer', :'resource') ->> 'action', 'error',
          'a redirect URI not registered exactly is an error page, never a redirect');
SELECT is(mcp.oauth_authorize(:'params'::jsonb || '{"client_id": "mcpc_nope"}', :'issuer', :'resource') ->> 'action', 'error', 'so is an unknown client');
SELECT matches(mcp.oauth_authorize(:'params'::jsonb - 'code_challenge', :'issuer', :'resource') ->> 'location',
               '^http://127\.0\.0\.1:7777/callback\?error=invalid_request&error_description=PKCE[^&]*&state=st%26ate&iss=https%3A%2F%2Fmcp\.example\.test$',
               'a missing PKCE challenge goes back as invalid_request, with state and iss');
SELECT matches(mcp.oauth_authorize(:'params'::jsonb || '{"code_challenge_method": "plain"}', :'issuer', :'resource') ->> 'location',
               'error=invalid_request', 'the plain PKCE method is refused');
SELECT matches(mcp.oauth_authorize(:'params'::jsonb || '{"resource": "https://other.example/mcp"}', :'issuer', :'resource') ->> 'location',
               'error=invalid_target', 'a token for another resource is not even started');
SELECT matches(mcp.oauth_authorize(:'params'::jsonb || '{"response_type": "token"}', :'issuer', :'resource') ->> 'location',
               'error=unsupported_response_type', 'the implicit flow does not exist');

SELECT is(mcp.oauth_sign_in(:'request', 'alice@example.com', 'bad password!') ->> 'error', 'the login or password is wrong', 'a wrong password shows the sign-in page again');
SELECT mcp.oauth_sign_in(:'request', 'alice@example.com', 'alice password 2') AS signed \gset
SELECT is(:'signed'::jsonb ->> 'action', 'consent', 'the right one leads to the consent page');
SELECT is(:'signed'::jsonb -> 'scopes', '["datasets:read", "datasets:query"]', 'admin is not granted to a reader');
SELECT ok((:'signed'::jsonb -> 'datasets') @> jsonb_build_array(jsonb_build_object('name', 'tap_users_demo'))
          AND NOT (:'signed'::jsonb -> 'datasets') @> jsonb_build_array(jsonb_build_object('name', 'tap_users_other')),
          'the consent page names the datasets the client will see, and only those');
SELECT is(mcp.oauth_consent(:'request', 'mcpcn_forged', true, :'issuer') ->> 'action', 'error', 'consent needs the handle of the signed-in page');
SELECT mcp.oauth_consent(:'request', :'signed'::jsonb ->> 'consent', true, :'issuer') AS consented \gset
SELECT matches(:'consented'::jsonb ->> 'location', '^http://127\.0\.0\.1:7777/callback\?code=mcpac_[0-9a-f]{64}&state=st%26ate&iss=https%3A%2F%2Fmcp\.example\.test$',
               'consent redirects with the code, the state and iss');
SELECT substring(:'consented'::jsonb ->> 'location' FROM 'code=([^&]+)') AS code \gset
SELECT is(mcp.oauth_consent(:'request', :'signed'::jsonb ->> 'consent', true, :'issuer') ->> 'action', 'error', 'a consent page works once');

SELECT jsonb_build_object('grant_type', 'authorization_code', 'code', :'code', 'client_id', :'client',
                          'redirect_uri', 'http://127.0.0.1:7777/callback', 'code_verifier', :'verifier', 'resource', :'resource') AS exchange \gset
SELECT is(mcp.oauth_token(:'exchange'::jsonb || '{"resource": "https://other.example/mcp"}', :'resource') #>> '{body,error}', 'invalid_target',
          'the token endpoint refuses another resource');
SELECT is(mcp.oauth_token(:'exchange'::jsonb || '{"client_id": "mcpc_nope"}', :'resource') #>> '{body,error}', 'invalid_client', 'and an unknown client');
SELECT mcp.oauth_token(:'exchange', :'resource') AS tok \gset
SELECT is((:'tok'::jsonb ->> 'status')::integer, 200, 'the code is exchanged for tokens');
SELECT ok(:'tok'::jsonb #>> '{body,access_token}' LIKE 'mcpat_%' AND :'tok'::jsonb #>> '{body,refresh_token}' LIKE 'mcprt_%'
          AND (:'tok'::jsonb #>> '{body,expires_in}')::integer = 3600 AND :'tok'::jsonb #>> '{body,token_type}' = 'Bearer',
          'an access token for an hour and a refresh token');
SELECT :'tok'::jsonb #>> '{body,access_token}' AS access, :'tok'::jsonb #>> '{body,refresh_token}' AS refresh \gset
SELECT is((SELECT count(*) FROM mcp.oauth_tokens t, jsonb_each_text(to_jsonb(t)) f WHERE f.value IN (:'access', :'refresh')), 0::bigint,
          'tokens are stored only as hashes');
SELECT api_key_id, role, user_id, coalesce(error, '') AS error FROM mcp.authenticate_bearer(:'access', :'resource') \gset bearer_
SELECT ok(:'bearer_error' = '' AND :'bearer_role' = 'reader' AND :'bearer_user_id'::integer = :alice_id, 'the access token authenticates the person');
SELECT is((SELECT kind FROM mcp.api_keys WHERE id = :bearer_api_key_id), 'oauth', 'through their row for this client');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'access', 'https://other.example/mcp')), 'the access token was issued for another resource',
          'a token presented to another resource is refused');
SELECT is((SELECT error FROM mcp.authenticate_bearer('mcpat_' || repeat('0', 64), :'resource')), 'the access token is unknown', 'an unknown token is refused');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'key_secret', :'resource')), NULL, 'an API key still authenticates through the same function');
SELECT is(mcp.oauth_token(:'exchange', :'resource') #>> '{body,error}', 'invalid_grant', 'a code works once');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'access', :'resource')), 'the access token was revoked', 'and its replay revokes what it gave');

-- A second authorization, for refresh and revocation.
SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') ->> 'request' AS request2 \gset
SELECT mcp.oauth_sign_in(:'request2', 'alice@example.com', 'alice password 2') ->> 'consent' AS consent2 \gset
SELECT substring(mcp.oauth_consent(:'request2', :'consent2', true, :'issuer') ->> 'location' FROM 'code=([^&]+)') AS code2 \gset
SELECT is(mcp.oauth_token(:'exchange'::jsonb || jsonb_build_object('code', :'code2', 'redirect_uri', 'http://127.0.0.1:7777/x'), :'resource') #>> '{body,error}',
          'invalid_grant', 'a mismatched redirect URI at the token endpoint is refused');
SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') ->> 'request' AS request3 \gset
SELECT mcp.oauth_sign_in(:'request3', 'alice@example.com', 'alice password 2') ->> 'consent' AS consent3 \gset
SELECT substring(mcp.oauth_consent(:'request3', :'consent3', true, :'issuer') ->> 'location' FROM 'code=([^&]+)') AS code3 \gset
SELECT is(mcp.oauth_token(:'exchange'::jsonb || jsonb_build_object('code', :'code3', 'code_verifier', repeat('a', 43)), :'resource') #>> '{body,error}',
          'invalid_grant', 'a wrong PKCE verifier is refused');
SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') ->> 'request' AS request4 \gset
SELECT mcp.oauth_sign_in(:'request4', 'alice@example.com', 'alice password 2') ->> 'consent' AS consent4 \gset
SELECT substring(mcp.oauth_consent(:'request4', :'consent4', true, :'issuer') ->> 'location' FROM 'code=([^&]+)') AS code4 \gset
SELECT is(mcp.oauth_token(:'exchange'::jsonb - 'code_verifier' || jsonb_build_object('code', :'code4'), :'resource') #>> '{body,error}',
          'invalid_grant', 'so is a missing one');
SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') ->> 'request' AS request5 \gset
SELECT mcp.oauth_sign_in(:'request5', 'alice@example.com', 'alice password 2') ->> 'consent' AS consent5 \gset
SELECT substring(mcp.oauth_consent(:'request5', :'consent5', true, :'issuer') ->> 'location' FROM 'code=([^&]+)') AS code5 \gset
UPDATE mcp.oauth_authorizations SET code_expires_at = now() - interval '1 second' WHERE code_hash = mcp._oauth_hash(:'code5');
SELECT is(mcp.oauth_token(:'exchange'::jsonb || jsonb_build_object('code', :'code5'), :'resource') #>> '{body,error_description}',
          'the authorization code has expired', 'an expired code is refused');

SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') ->> 'request' AS request6 \gset
SELECT mcp.oauth_sign_in(:'request6', 'alice@example.com', 'alice password 2') ->> 'consent' AS consent6 \gset
SELECT substring(mcp.oauth_consent(:'request6', :'consent6', true, :'issuer') ->> 'location' FROM 'code=([^&]+)') AS code6 \gset
SELECT mcp.oauth_token(:'exchange'::jsonb || jsonb_build_object('code', :'code6'), :'resource') AS tok6 \gset
SELECT :'tok6'::jsonb #>> '{body,access_token}' AS access6, :'tok6'::jsonb #>> '{body,refresh_token}' AS refresh6 \gset
UPDATE mcp.oauth_tokens SET expires_at = now() - interval '1 second' WHERE token_hash = mcp._oauth_hash(:'access6');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'access6', :'resource')), 'the access token has expired', 'an expired access token is refused');
SELECT ok(EXISTS (SELECT 1 FROM mcp.auth_events WHERE event = 'token_refused' AND detail = 'the access token has expired'), 'with a row in mcp.auth_events');
SELECT jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'refresh6', 'client_id', :'client') AS refreshing \gset
SELECT mcp.oauth_token(:'refreshing', :'resource') AS tok7 \gset
SELECT is((:'tok7'::jsonb ->> 'status')::integer, 200, 'a refresh token gives new tokens');
SELECT isnt(:'tok7'::jsonb #>> '{body,refresh_token}', :'refresh6', 'and a new refresh token (rotation)');
SELECT is(mcp.oauth_token(:'refreshing'::jsonb || '{"scope": "datasets:read"}', :'resource') #>> '{body,error}', 'invalid_grant',
          'a used refresh token is refused');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'tok7'::jsonb #>> '{body,access_token}', :'resource')), 'the access token was revoked',
          'and its reuse revokes the whole family');

-- Revocation, scopes, disabling.
SELECT mcp.oauth_authorize(:'params'::jsonb || '{"scope": "datasets:read"}', :'issuer', :'resource') ->> 'request' AS request8 \gset
SELECT mcp.oauth_sign_in(:'request8', 'alice@example.com', 'alice password 2') ->> 'consent' AS consent8 \gset
SELECT substring(mcp.oauth_consent(:'request8', :'consent8', true, :'issuer') ->> 'location' FROM 'code=([^&]+)') AS code8 \gset
SELECT mcp.oauth_token(:'exchange'::jsonb || jsonb_build_object('code', :'code8'), :'resource') AS tok8 \gset
SELECT is(:'tok8'::jsonb #>> '{body,scope}', 'datasets:read', 'a client asking for datasets:read gets just that');
SELECT is(mcp.oauth_token(jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'tok8'::jsonb #>> '{body,refresh_token}',
                                             'client_id', :'client', 'scope', 'datasets:read datasets:query'), :'resource') #>> '{body,error}',
          'invalid_scope', 'a refresh cannot widen the scopes');
SELECT api_key_id AS read_only_key FROM mcp.authenticate_bearer(:'tok8'::jsonb #>> '{body,access_token}', :'resource') \gset
SELECT set_config('mcp.caller', :'read_only_key', true) IS NOT NULL AS as_read_only \gset
SELECT mcp.call_tool('execute_query', jsonb_build_object('dataset_id', :ds, 'sql', 'SELECT 1 AS x')) AS refused \gset
SELECT matches(:'refused'::jsonb #>> '{content,0,text}',
               '^insufficient_scope: the tool execute_query needs the scope datasets:query', 'a read-only connection cannot run queries');
SELECT is(:'refused'::jsonb #>> '{_meta,mcp-analytics/insufficient_scope}', 'datasets:read datasets:query',
          'and the result names the scopes to ask for (the bridge answers 403 insufficient_scope)');
SELECT is((SELECT is_error::text || ' / ' || insufficient_scope
             FROM mcp.call_tool_result('execute_query', jsonb_build_object('dataset_id', :ds, 'sql', 'SELECT 1 AS x'))),
          'true / datasets:read datasets:query', 'call_tool_result gives the bridge both in columns of their own');
SELECT is((mcp.call_tool('list_datasets') ->> 'isError')::boolean, false, 'but lists datasets');
SELECT set_config('mcp.caller', '', true) IS NOT NULL AS nobody2 \gset
SELECT is((mcp.oauth_revoke(:'tok8'::jsonb #>> '{body,refresh_token}', :'client') ->> 'status')::integer, 200, 'revocation answers 200');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'tok8'::jsonb #>> '{body,access_token}', :'resource')), 'the access token was revoked',
          'revoking the refresh token revokes its access token too');
SELECT is((mcp.oauth_revoke('mcprt_unknown', :'client') ->> 'status')::integer, 200, 'an unknown token is no error (RFC 7009)');
SELECT is((mcp.oauth_revoke('x', 'mcpc_nope') ->> 'status')::integer, 401, 'an unknown client is');

SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') ->> 'request' AS request9 \gset
SELECT mcp.oauth_sign_in(:'request9', 'alice@example.com', 'alice password 2') ->> 'consent' AS consent9 \gset
SELECT substring(mcp.oauth_consent(:'request9', :'consent9', true, :'issuer') ->> 'location' FROM 'code=([^&]+)') AS code9 \gset
SELECT mcp.oauth_token(:'exchange'::jsonb || jsonb_build_object('code', :'code9'), :'resource') AS tok9 \gset
SELECT ok(mcp.disable_user('alice@example.com'), 'an admin disables a person');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'tok9'::jsonb #>> '{body,access_token}', :'resource')),
          'the account is disabled or its access was revoked', 'whose tokens stop working at once');
SELECT is(mcp.oauth_token(jsonb_build_object('grant_type', 'refresh_token', 'refresh_token', :'tok9'::jsonb #>> '{body,refresh_token}', 'client_id', :'client'), :'resource') #>> '{body,error}',
          'invalid_grant', 'and cannot be refreshed');
SELECT is((SELECT error FROM mcp.ui_sign_in_password('alice@example.com', 'alice password 2')), 'this account is disabled: ask an administrator',
          'nor can they sign in');
SELECT mcp.oauth_authorize(:'params', :'issuer', :'resource') ->> 'request' AS request10 \gset
SELECT is(mcp.oauth_sign_in(:'request10', 'alice@example.com', 'alice password 2') ->> 'error', 'this account is disabled: ask an administrator',
          'not even through OAuth');
SELECT ok(mcp.enable_user('alice@example.com'), 'an admin enables them again');
SELECT is((SELECT error FROM mcp.authenticate_bearer(:'tok9'::jsonb #>> '{body,access_token}', :'resource')),
          'the account is disabled or its access was revoked', 'their old tokens stay dead');

-- Hostile and malformed input to the OAuth functions
SELECT is(mcp.oauth_token('[1, 2]', :'resource') #>> '{body,error}', 'invalid_client', 'a token request that is no object names no client');
SELECT is(mcp.oauth_token(jsonb_build_object('client_id', :'client'), :'resource') #>> '{body,error}', 'unsupported_grant_type', 'a missing grant_type');
SELECT is(mcp.oauth_token(jsonb_build_object('client_id', :'client', 'grant_type', 'password', 'username', 'a', 'password', 'b'), :'resource') #>> '{body,error}',
          'unsupported_grant_type', 'the password grant does not exist');
SELECT is(mcp.oauth_token(jsonb_build_object('client_id', :'client', 'grant_type', 'authorization_code', 'code', repeat('x', 100000)), :'resource') #>> '{body,error}',
          'invalid_grant', 'a huge code is just unknown');
SELECT is(mcp.oauth_token(jsonb_build_object('client_id', :'client', 'grant_type', 'refresh_token', 'refresh_token', 42), :'resource') #>> '{body,error}',
          'invalid_grant', 'a refresh token of the wrong type is unknown');
SELECT is(mcp.oauth_authorize(NULL, :'issuer', :'resource') ->> 'action', 'error', '/authorize without parameters is an error page');
SELECT is(mcp.oauth_authorize(:'params'::jsonb || '{"state": 12}', :'issuer', :'resource') ->> 'action', 'sign_in', 'a state of the wrong JSON type is carried as text');
SELECT is(mcp.oauth_sign_in(NULL, NULL, NULL) ->> 'action', 'error', 'a sign-in without its page handle is refused');
SELECT is(mcp.oauth_consent(NULL, NULL, NULL, :'issuer') ->> 'action', 'error', 'so is a consent');
SELECT is((mcp.oauth_revoke(NULL, NULL) ->> 'status')::integer, 401, 'a revocation without a client');
SELECT throws_ok($$SELECT mcp.create_user(NULL, NULL)$$, '22023', NULL, 'a user needs a login');
SELECT throws_ok($$SELECT mcp.set_password('nobody', 'long enough password')$$, 'P0002', NULL, 'passwords of unknown people are refused');
SELECT is((SELECT error FROM mcp.authenticate_bearer(repeat('x', 100000), :'resource')), 'malformed credential', 'a huge credential is refused before hashing');

-- Upstream OpenID sign-in (the flow itself runs against a real provider in test/mcp/oidc.test.js)
SELECT is(mcp._oidc_upstream_name(), NULL, 'no upstream provider until oidc.issuer and oidc.client_id are set');
SELECT is(mcp.oauth_oidc_start(:'request10', 'https://mcp.example.test/oidc/callback') ->> 'action', 'error', 'so no upstream sign-in starts');
SELECT is(mcp.oauth_oidc_callback(repeat('a', 64), 'code', 'https://mcp.example.test/oidc/callback') ->> 'action', 'error',
          'an answer for no sign-in in progress is refused');
SELECT ok(EXISTS (SELECT 1 FROM mcp.auth_events WHERE event = 'upstream_sign_in_refused'), 'with a row in mcp.auth_events');
SELECT throws_ok($$SELECT mcp._jwt_claims('not.a.jwt', '{"keys": []}')$$, '22023', NULL, 'a token that is not a signed JWT is refused');
SELECT throws_ok($$SELECT mcp._jwt_claims('eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', '{"keys": []}')$$, '22023',
                 'the ID token must be signed with RS256', 'alg none is refused');
SELECT ok(mcp.set_oidc_client_secret('upstream secret'), 'an admin stores the upstream client secret');
SELECT ok(NOT has_table_privilege('mcp_admin', 'mcp.oidc_client_secret', 'SELECT'), 'which no role can read back');

-- Privileges ------------------------------------------------------------------------------
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.create_user(text,text,text,text)', 'EXECUTE'), 'readers cannot create people');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.grant_dataset(integer,text,text,text)', 'EXECUTE'), 'nor grant datasets');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.create_oauth_client(text,text[],boolean)', 'EXECUTE'), 'nor register clients by hand');
SELECT ok(has_function_privilege('mcp_reader', 'mcp.oauth_token(jsonb,text)', 'EXECUTE'), 'the bridge (as reader) runs the OAuth endpoints');
SELECT ok(NOT has_function_privilege('public', 'mcp.oauth_token(jsonb,text)', 'EXECUTE'), 'PUBLIC runs nothing');
SELECT ok(NOT has_table_privilege('mcp_reader', 'mcp.users', 'SELECT'), 'readers cannot read the users table');
SELECT ok(NOT has_function_privilege('mcp_reader', 'mcp.set_oidc_client_secret(text)', 'EXECUTE'), 'nor set the upstream secret');

SELECT * FROM finish();
ROLLBACK;
