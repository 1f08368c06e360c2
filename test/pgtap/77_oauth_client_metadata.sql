-- Client ID Metadata Documents, the SQL side: which URLs may be a client_id, which documents
-- describe a client, what the authorization server metadata says, and that a refused
-- document leaves nothing behind. (The fetch itself and the whole flow with the SDK are in
-- test/mcp/oauth_cimd.test.js.)
BEGIN;
SELECT plan(28);
SET LOCAL client_min_messages = warning;

-- URLs ---------------------------------------------------------------------------------------
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com/oauth/client.json'), NULL, 'an https URL with a path is a client_id URL');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com:8443/c?v=1'), NULL, 'with a port and a query too');
SELECT is(mcp._oauth_client_id_url_problem('http://app.example.com/client.json'), 'the client_id URL must use https', 'http is refused');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com/'), 'the client_id URL must have a path', 'so is a URL without a path');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com'), 'the client_id URL must have a path', 'or with nothing after the host');
SELECT is(mcp._oauth_client_id_url_problem('https://app_example.com/c.json'), 'the client_id URL has no valid host', 'a host name of other characters');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com/c.json#x'), 'the client_id URL must not have a fragment', 'a fragment');
SELECT is(mcp._oauth_client_id_url_problem('https://me:pw@app.example.com/c.json'), 'the client_id URL must not contain a user name or password', 'credentials');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com/a/./c.json'), 'the client_id URL must not contain . or .. path segments', 'a dot segment');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com/a/%2E%2e/c.json'), 'the client_id URL must not contain . or .. path segments', 'an encoded dot-dot segment');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com/a b'), 'the client_id URL contains spaces, control characters or backslashes', 'spaces');
SELECT is(mcp._oauth_client_id_url_problem('https://app.example.com/' || repeat('a', 2000)), 'the client_id URL is longer than 2000 characters', 'a huge URL');
SELECT is(mcp._oauth_client_id_url_problem(NULL), 'the client_id URL must use https', 'NULL');

-- Documents ----------------------------------------------------------------------------------
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c", "client_name": "A", "redirect_uris": ["https://a.example/cb"]}'),
          NULL, 'a document naming its own URL, with redirect URIs, describes a client');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c/", "redirect_uris": ["https://a.example/cb"]}'),
          'its client_id is not exactly the URL it was fetched from', 'the client_id must be the URL exactly');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": ["https://a.example/c"], "redirect_uris": ["https://a.example/cb"]}'),
          'its client_id is not exactly the URL it was fetched from', 'and a string');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c", "client_secret": "s", "redirect_uris": ["https://a.example/cb"]}'),
          'it contains a client secret, which a metadata document must never publish', 'a published secret is refused');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c", "token_endpoint_auth_method": "client_secret_post", "redirect_uris": ["https://a.example/cb"]}'),
          'token_endpoint_auth_method client_secret_post is not offered: such clients are public (none)', 'so is a confidential auth method');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c"}'),
          'redirect_uris must be an array of 1 to 20 URIs', 'redirect_uris are required');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c", "redirect_uris": [1]}'),
          'redirect_uris must be an array of 1 to 20 URIs', 'as strings');
SELECT matches(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c", "redirect_uris": ["javascript:alert(1)"]}'),
          '^redirect URI javascript:alert\(1\) is not allowed', 'of https or loopback http');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c", "redirect_uris": ["https://a.example/cb"], "grant_types": ["client_credentials"]}'),
          'only the grant types authorization_code and refresh_token are offered', 'other grant types are refused');
SELECT is(mcp._oauth_client_metadata_problem('https://a.example/c', '{"client_id": "https://a.example/c", "redirect_uris": ["https://a.example/cb"], "client_name": {"x": 1}}'),
          'client_name must be a string', 'a client_name that is no string');

-- The server ---------------------------------------------------------------------------------
SELECT is(mcp.oauth_server_metadata('https://mcp.example') -> 'client_id_metadata_document_supported', 'true'::jsonb,
          'the authorization server metadata advertises client metadata documents');
SELECT mcp.set_setting('oauth.client_metadata_documents', 'false') IS NOT NULL AS off \gset
SELECT is(mcp.oauth_server_metadata('https://mcp.example') -> 'client_id_metadata_document_supported', 'false'::jsonb, 'unless an admin turns them off');
SELECT matches(mcp.oauth_authorize(jsonb_build_object('client_id', 'https://127.0.0.1:1/client.json', 'response_type', 'code',
                                                      'redirect_uri', 'http://127.0.0.1:7/cb'), 'https://mcp.example', 'https://mcp.example/mcp') ->> 'message',
               'cannot be used: client metadata documents are turned off on this server', 'then a URL client_id is refused');
SELECT mcp.reset_setting('oauth.client_metadata_documents') IS NOT NULL AS back_on \gset
SELECT matches(mcp.oauth_authorize(jsonb_build_object('client_id', 'https://127.0.0.1:1/client.json', 'response_type', 'code',
                                                      'redirect_uri', 'http://127.0.0.1:7/cb'), 'https://mcp.example', 'https://mcp.example/mcp') ->> 'message',
               'not on a public address \(The host name resolves to 127\.0\.0\.1', 'a document on the loopback interface is refused by default, before any connection');
SELECT is((SELECT count(*) FROM mcp.oauth_clients WHERE client_id = 'https://127.0.0.1:1/client.json'), 0::bigint, 'refused documents leave no client behind');
SELECT * FROM finish();
ROLLBACK;
