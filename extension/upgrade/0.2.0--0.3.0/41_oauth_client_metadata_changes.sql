-- Client ID Metadata Documents (the new objects are in part 42, a link to the install part
-- 77_oauth_client_metadata.sql): OAuth clients may be described by the document at their
-- client_id URL, and the OAuth functions that look a client up resolve such a URL.
ALTER TABLE mcp.oauth_clients DROP CONSTRAINT oauth_clients_client_id_check,
    ADD CONSTRAINT oauth_clients_client_id_check CHECK (length(client_id) BETWEEN 1 AND 2000);
ALTER TABLE mcp.oauth_clients DROP CONSTRAINT oauth_clients_registration_check,
    ADD CONSTRAINT oauth_clients_registration_check CHECK (registration IN ('admin', 'dynamic', 'metadata_document'));
ALTER TABLE mcp.oauth_clients ADD COLUMN document_fetched_at timestamptz,
    ADD COLUMN document_expires_at timestamptz;
COMMENT ON TABLE mcp.oauth_clients IS 'OAuth clients: registered by an admin, dynamically (RFC 7591), or described by the client metadata document at their client_id URL; a confidential client''s secret is kept as a SHA-256 hash';
COMMENT ON COLUMN mcp.oauth_clients.document_expires_at IS 'For a client metadata document: until when the stored copy is used (its Cache-Control max-age, 1 min to 1 day); then it is fetched again';

CREATE OR REPLACE FUNCTION mcp._oauth_client_host(client mcp.oauth_clients) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN client.registration = 'metadata_document'
                THEN substring(client.client_id FROM '^https://([^/?#]+)') END
$$;
COMMENT ON FUNCTION mcp._oauth_client_host(mcp.oauth_clients) IS 'Internal: the host of a client metadata document client''s client_id URL (shown on the sign-in and consent pages), NULL for other clients';

CREATE OR REPLACE FUNCTION mcp.oauth_clients()
RETURNS TABLE (client_id text, client_name text, registration text, redirect_uris text[],
               confidential boolean, disabled boolean, people integer, created_at timestamptz,
               last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT c.client_id, c.client_name, c.registration, c.redirect_uris,
           c.token_endpoint_auth_method <> 'none', c.disabled,
           (SELECT count(*)::integer FROM mcp.api_keys k WHERE k.oauth_client_id = c.id AND k.revoked_at IS NULL),
           c.created_at, c.last_used_at
      FROM mcp.oauth_clients c ORDER BY c.id
$$;
COMMENT ON FUNCTION mcp.oauth_clients() IS 'Lists the OAuth clients, how each was registered (admin, dynamic, or metadata_document: client_id is the URL of its client metadata document), and how many people use it; never a secret.';

CREATE OR REPLACE FUNCTION mcp.oauth_server_metadata(issuer text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'issuer', issuer,
        'authorization_endpoint', issuer || '/authorize',
        'token_endpoint', issuer || '/token',
        'registration_endpoint', CASE WHEN (mcp.get_setting('oauth.dynamic_registration'))::boolean
                                      THEN issuer || '/register' END,
        'revocation_endpoint', issuer || '/revoke',
        'scopes_supported', to_jsonb(mcp.oauth_scopes()),
        'response_types_supported', jsonb_build_array('code'),
        'response_modes_supported', jsonb_build_array('query'),
        'grant_types_supported', jsonb_build_array('authorization_code', 'refresh_token'),
        'token_endpoint_auth_methods_supported', jsonb_build_array('none', 'client_secret_post', 'client_secret_basic'),
        'revocation_endpoint_auth_methods_supported', jsonb_build_array('none', 'client_secret_post', 'client_secret_basic'),
        'code_challenge_methods_supported', jsonb_build_array('S256'),
        'authorization_response_iss_parameter_supported', true,
        'client_id_metadata_document_supported', (mcp.get_setting('oauth.client_metadata_documents'))::boolean,
        'subject_types_supported', jsonb_build_array('public')))
$$;
COMMENT ON FUNCTION mcp.oauth_server_metadata(text) IS
'Authorization server metadata (RFC 8414, also served as OpenID discovery) for the given issuer URL: endpoints, scopes, PKCE S256 only, iss in the authorization response, client metadata documents (unless oauth.client_metadata_documents is off).';

CREATE OR REPLACE FUNCTION mcp.oauth_authorize(params jsonb, issuer text, resource text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p          jsonb := CASE WHEN jsonb_typeof(params) = 'object' THEN params ELSE '{}' END;
    resolved   record;
    client     mcp.oauth_clients;
    handle     text := mcp._oauth_secret('mcpar_');
    wanted     text;
    scopes     text[];
    fail       text;
    fail_text  text;
BEGIN
    SELECT * INTO resolved FROM mcp._oauth_client_for(p ->> 'client_id') r;
    client := resolved.client;
    IF client.id IS NULL AND p ->> 'client_id' ~* '^https?://' THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, NULL, NULL,
                                    left('client metadata document ' || (p ->> 'client_id') || ': ' || resolved.problem, 500));
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', format('This application''s client metadata document (%s) cannot be used: %s.',
                              left(p ->> 'client_id', 300), resolved.problem));
    ELSIF client.id IS NULL THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, NULL, NULL, 'unknown client');
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', 'This application is not registered with this server (unknown client_id). Remove the connector and add it again.');
    END IF;
    -- The redirect URI is compared exactly: no prefixes, no wildcards.
    IF NOT (coalesce(p ->> 'redirect_uri', '') = ANY (client.redirect_uris))
       AND NOT (p ->> 'redirect_uri' IS NULL AND cardinality(client.redirect_uris) = 1) THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, client.id, NULL, 'redirect_uri mismatch');
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', format('The redirect address this request names is not one %s registered, so sign-in cannot continue.', client.client_name));
    END IF;
    wanted := coalesce(p ->> 'redirect_uri', client.redirect_uris[1]);
    scopes := mcp._oauth_granted_scopes(p ->> 'scope', NULL);
    IF coalesce(p ->> 'response_type', '') <> 'code' THEN
        fail := 'unsupported_response_type'; fail_text := 'only response_type=code is supported';
    ELSIF coalesce(p ->> 'code_challenge', '') = '' THEN
        fail := 'invalid_request'; fail_text := 'PKCE is required: send code_challenge with code_challenge_method=S256';
    ELSIF coalesce(p ->> 'code_challenge_method', 'plain') <> 'S256' THEN
        fail := 'invalid_request'; fail_text := 'only the PKCE method S256 is accepted';
    ELSIF p ->> 'code_challenge' !~ '^[A-Za-z0-9_-]{43}$' THEN
        fail := 'invalid_request'; fail_text := 'code_challenge must be the base64url SHA-256 of the verifier (43 characters)';
    ELSIF coalesce(p ->> 'resource', resource) <> resource THEN
        fail := 'invalid_target'; fail_text := format('this server issues tokens for %s only', resource);
    ELSIF cardinality(scopes) = 0 THEN
        fail := 'invalid_scope'; fail_text := 'none of the requested scopes is offered: datasets:read, datasets:query, admin';
    ELSIF length(p ->> 'state') > 2000 THEN
        fail := 'invalid_request'; fail_text := 'state is too long';
    END IF;
    IF fail IS NOT NULL THEN
        PERFORM mcp._log_auth_event('authorize_refused', false, NULL, NULL, client.id, NULL, fail || ': ' || fail_text);
        RETURN jsonb_build_object('action', 'redirect', 'location', mcp._url_with_params(wanted,
            'error', fail, 'error_description', fail_text, 'state', left(p ->> 'state', 2000), 'iss', issuer));
    END IF;
    DELETE FROM mcp.oauth_authorizations a WHERE a.expires_at < now() - interval '1 day';
    INSERT INTO mcp.oauth_authorizations (request_hash, client_id, redirect_uri, state, code_challenge,
                                          scopes, resource, expires_at)
    VALUES (mcp._oauth_hash(handle), client.id, wanted, p ->> 'state', p ->> 'code_challenge',
            scopes, resource, now() + interval '15 minutes');
    RETURN jsonb_build_object('action', 'sign_in', 'request', handle, 'client_name', client.client_name,
                              'client_registration', client.registration, 'client_host', mcp._oauth_client_host(client),
                              'scopes', to_jsonb(scopes), 'upstream', mcp._oidc_upstream_name());
END
$$;
COMMENT ON FUNCTION mcp.oauth_authorize(jsonb, text, text) IS
'GET /authorize: checks the request (known client, or the client metadata document its client_id URL serves; exact redirect URI, response_type code, PKCE S256, resource equal to this server''s, known scopes) and answers {action: sign_in, request handle, client_name, scopes}, or {action: redirect, location} carrying an OAuth error (with iss), or {action: error, message} when the redirect URI cannot be trusted.';

CREATE OR REPLACE FUNCTION mcp._oauth_signed_in(request text, pending mcp.oauth_authorizations, user_id integer)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    client   mcp.oauth_clients;
    person   mcp.users;
    handle   text := mcp._oauth_secret('mcpcn_');
    granted  text[];
BEGIN
    SELECT * INTO client FROM mcp.oauth_clients c WHERE c.id = pending.client_id;
    SELECT * INTO person FROM mcp.users u WHERE u.id = _oauth_signed_in.user_id;
    granted := mcp._oauth_granted_scopes(array_to_string(pending.scopes, ' '), person.role);
    UPDATE mcp.oauth_authorizations a SET user_id = person.id, consent_hash = mcp._oauth_hash(handle), scopes = granted
     WHERE a.id = pending.id;
    PERFORM mcp._log_auth_event('oauth_sign_in', true, person.login, person.id, client.id);
    RETURN jsonb_build_object('action', 'consent', 'request', request, 'consent', handle,
        'client_name', client.client_name, 'client_registration', client.registration,
        'client_host', mcp._oauth_client_host(client),
        'redirect_host', substring(pending.redirect_uri FROM '^[a-z]+://([^/?#]+)'),
        -- The consent page's form-action must allow the redirect that follows it.
        'redirect_origin', substring(pending.redirect_uri FROM '^[a-z]+://[^/?#]+'),
        'display_name', person.display_name, 'login', person.login, 'scopes', to_jsonb(granted),
        'datasets', coalesce((SELECT jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name) ORDER BY d.name)
                                FROM mcp.datasets d
                               WHERE d.status IN ('approved', 'active')
                                 AND (person.role = 'admin' OR EXISTS (
                                      SELECT 1 FROM mcp.dataset_grants g
                                       WHERE g.dataset_id = d.id
                                         AND (g.user_id = person.id OR g.group_id IN (
                                              SELECT m.group_id FROM mcp.group_members m WHERE m.user_id = person.id))))),
                             '[]'));
END
$$;
COMMENT ON FUNCTION mcp._oauth_signed_in(text, mcp.oauth_authorizations, integer) IS 'Internal: binds a signed-in person to a pending authorization and answers the consent page (client, scopes, the datasets the client will see)';

CREATE OR REPLACE FUNCTION mcp.oauth_sign_in(request text, login text, password text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pending  mcp.oauth_authorizations := mcp._oauth_pending(request);
    client   mcp.oauth_clients;
    checked  record;
BEGIN
    IF pending.id IS NULL THEN
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', 'This sign-in page has expired or was already used. Start connecting again from your application.');
    END IF;
    SELECT * INTO client FROM mcp.oauth_clients c WHERE c.id = pending.client_id;
    SELECT * INTO checked FROM mcp._check_password_sign_in(login, password);
    IF checked.user_id IS NULL THEN
        RETURN jsonb_build_object('action', 'sign_in', 'request', request, 'client_name', client.client_name,
                                  'client_host', mcp._oauth_client_host(client),
                                  'scopes', to_jsonb(pending.scopes), 'error', checked.error,
                                  'upstream', mcp._oidc_upstream_name());
    END IF;
    RETURN mcp._oauth_signed_in(request, pending, checked.user_id);
END
$$;
COMMENT ON FUNCTION mcp.oauth_sign_in(text, text, text) IS
'POST /authorize, sign-in step: checks the login and password (with lockout) for a pending authorization and answers {action: consent, consent handle, client_name, display_name, scopes, datasets the person will see}, or {action: sign_in, error} to ask again.';

CREATE OR REPLACE FUNCTION mcp._oauth_client_auth(client_id text, client_secret text) RETURNS mcp.oauth_clients
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    resolved record;
    client mcp.oauth_clients;
BEGIN
    -- A metadata document client's copy is fetched again when it expired.
    SELECT * INTO resolved FROM mcp._oauth_client_for(_oauth_client_auth.client_id) r;
    client := resolved.client;
    IF client.id IS NULL OR (client.secret_hash IS NOT NULL AND client.secret_hash IS DISTINCT FROM mcp._oauth_hash(client_secret)) THEN
        RETURN NULL;
    END IF;
    IF client.last_used_at IS NULL OR client.last_used_at < now() - interval '1 minute' THEN
        UPDATE mcp.oauth_clients c SET last_used_at = now() WHERE c.id = client.id;
    END IF;
    RETURN client;
END
$$;
COMMENT ON FUNCTION mcp._oauth_client_auth(text, text) IS 'Internal: the client of a token or revocation request if it exists (registered, or from its metadata document URL), is enabled and (when confidential) gave its secret';
