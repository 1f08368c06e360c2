------------------------------------------------------------------------------------------
-- Sign-in through an upstream OpenID Connect provider (Microsoft Entra ID, or any other):
-- on the OAuth sign-in page, "Sign in with <provider>" sends the browser to the provider
-- (authorization code with PKCE, state and nonce); its answer comes back to /oidc/callback,
-- and the ID token (RS256, checked against the provider's JWKS: issuer, audience, expiry,
-- nonce) names the person by e-mail. Only allowed domains get in; the person is made on first
-- sign-in, with the role the group-to-role mapping gives, and joins the local groups named
-- like their upstream groups. Configured in settings (oidc.*) and mcp.set_oidc_client_secret.
------------------------------------------------------------------------------------------
INSERT INTO mcp.setting_defaults (key, value, description) VALUES
 ('oidc.issuer', '""', 'Issuer URL of the upstream OpenID provider, e.g. https://login.microsoftonline.com/<tenant>/v2.0; empty: password sign-in only'),
 ('oidc.client_id', '""', 'This server''s client id (application id) at the upstream provider'),
 ('oidc.provider_name', '"your organization"', 'Shown on the sign-in button: "Sign in with ..."'),
 ('oidc.allowed_domains', '[]', 'E-mail domains allowed to sign in upstream, e.g. ["example.com"]; empty: any'),
 ('oidc.group_roles', '{}', 'Upstream group (name or object id, from the groups claim) to role: {"<group>": "admin"}; others are readers');

-- The client secret is not a setting: settings are readable by every reader.
CREATE TABLE mcp.oidc_client_secret (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    secret      text NOT NULL,
    updated_by  text NOT NULL DEFAULT session_user,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE mcp.oidc_client_secret IS 'The client secret this server presents to the upstream OpenID provider; readable by no role, used only by the sign-in functions';
SELECT pg_catalog.pg_extension_config_dump('mcp.oidc_client_secret', '');

CREATE FUNCTION mcp._oidc_fetch(url text, form jsonb DEFAULT NULL) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_oidc_fetch' LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp._oidc_fetch(text, jsonb) IS 'Internal: GET url (or POST form as application/x-www-form-urlencoded) at the OpenID provider; its JSON object answer ({http_status, error, ...} for an HTTP error)';

CREATE FUNCTION mcp._jwt_claims(token text, jwks jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_jwt_claims' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mcp._jwt_claims(text, jsonb) IS 'Internal: the claims of an RS256-signed JWT that a key of the JWKS verifies, else an error';

CREATE FUNCTION mcp.set_oidc_client_secret(secret text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF secret IS NULL OR length(secret) NOT BETWEEN 1 AND 1000 THEN
        DELETE FROM mcp.oidc_client_secret;
        RETURN false;
    END IF;
    INSERT INTO mcp.oidc_client_secret (secret) VALUES (secret)
    ON CONFLICT (singleton) DO UPDATE SET secret = EXCLUDED.secret, updated_by = session_user, updated_at = now();
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.set_oidc_client_secret(text) IS 'Stores the client secret for the upstream OpenID provider (NULL removes it); it is never shown again.';

CREATE FUNCTION mcp._oidc_upstream_name() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN mcp.get_setting('oidc.issuer') #>> '{}' <> '' AND mcp.get_setting('oidc.client_id') #>> '{}' <> ''
                THEN mcp.get_setting('oidc.provider_name') #>> '{}' END
$$;
COMMENT ON FUNCTION mcp._oidc_upstream_name() IS 'Internal: the upstream provider''s name for the sign-in button, NULL when none is configured';

CREATE FUNCTION mcp._oidc_discovery() RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    issuer text := rtrim(mcp.get_setting('oidc.issuer') #>> '{}', '/');
    discovered  jsonb;
BEGIN
    discovered := mcp._oidc_fetch(issuer || '/.well-known/openid-configuration');
    IF discovered ->> 'issuer' IS DISTINCT FROM issuer OR discovered ->> 'authorization_endpoint' IS NULL
       OR discovered ->> 'token_endpoint' IS NULL OR discovered ->> 'jwks_uri' IS NULL THEN
        RAISE EXCEPTION 'the OpenID provider''s discovery document does not match oidc.issuer'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('It names the issuer %s.', coalesce(discovered ->> 'issuer', 'NULL'));
    END IF;
    RETURN discovered;
END
$$;
COMMENT ON FUNCTION mcp._oidc_discovery() IS 'Internal: the upstream provider''s discovery document, checked to name oidc.issuer';

-- GET /oidc/start?request=...: where to send the browser.
CREATE FUNCTION mcp.oauth_oidc_start(request text, callback_uri text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pending   mcp.oauth_authorizations := mcp._oauth_pending(request);
    discovered     jsonb;
    new_state text := mcp._oauth_secret('');
    new_nonce text := mcp._oauth_secret('');
    verifier  text := mcp._oauth_secret('') || mcp._oauth_secret('');
BEGIN
    IF pending.id IS NULL OR mcp._oidc_upstream_name() IS NULL THEN
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', 'This sign-in page has expired, or no upstream sign-in is configured. Start connecting again from your application.');
    END IF;
    discovered := mcp._oidc_discovery();
    UPDATE mcp.oauth_authorizations a
       SET oidc_state_hash = mcp._oauth_hash(new_state), oidc_nonce = new_nonce, oidc_verifier = verifier
     WHERE a.id = pending.id;
    RETURN jsonb_build_object('action', 'redirect', 'location', mcp._url_with_params(discovered ->> 'authorization_endpoint',
        'response_type', 'code', 'client_id', mcp.get_setting('oidc.client_id') #>> '{}',
        'redirect_uri', callback_uri, 'scope', 'openid email profile',
        'state', new_state, 'nonce', new_nonce,
        'code_challenge', translate(rtrim(encode(sha256(convert_to(verifier, 'UTF8')), 'base64'), '='), '+/', '-_'),
        'code_challenge_method', 'S256'));
END
$$;
COMMENT ON FUNCTION mcp.oauth_oidc_start(text, text) IS
'GET /oidc/start: for a pending authorization, answers {action: redirect, location} to the upstream OpenID provider (code flow with PKCE S256, state and nonce), or {action: error}.';

-- GET /oidc/callback?state&code: the provider's answer. Answers the consent page's view
-- (as mcp.oauth_sign_in) or {action: error, message}.
CREATE FUNCTION mcp.oauth_oidc_callback(state text, code text, callback_uri text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    pending   mcp.oauth_authorizations;
    discovered     jsonb;
    tokens    jsonb;
    claims    jsonb;
    email     text;
    domains   jsonb := mcp.get_setting('oidc.allowed_domains');
    mapping   jsonb := mcp.get_setting('oidc.group_roles');
    groups    text[];
    wanted_role text;
    person    mcp.users;
    secret    text := (SELECT s.secret FROM mcp.oidc_client_secret s);
    refusal   text;
BEGIN
    SELECT * INTO pending FROM mcp.oauth_authorizations a
     WHERE a.oidc_state_hash = mcp._oauth_hash(oauth_oidc_callback.state) AND a.expires_at > now() AND a.code_hash IS NULL;
    IF NOT FOUND OR oauth_oidc_callback.code IS NULL THEN
        PERFORM mcp._log_auth_event('upstream_sign_in_refused', false, NULL, NULL, NULL, NULL, 'unknown state or no code');
        RETURN jsonb_build_object('action', 'error', 'status', 400,
            'message', 'The answer of the sign-in provider does not belong to a sign-in in progress. Start connecting again from your application.');
    END IF;
    -- The state works once.
    UPDATE mcp.oauth_authorizations a SET oidc_state_hash = NULL WHERE a.id = pending.id;
    discovered := mcp._oidc_discovery();
    tokens := mcp._oidc_fetch(discovered ->> 'token_endpoint', jsonb_strip_nulls(jsonb_build_object(
        'grant_type', 'authorization_code', 'code', oauth_oidc_callback.code, 'redirect_uri', callback_uri,
        'client_id', mcp.get_setting('oidc.client_id') #>> '{}', 'client_secret', secret,
        'code_verifier', pending.oidc_verifier)));
    IF tokens ->> 'id_token' IS NULL THEN
        refusal := format('the provider refused the code: %s', coalesce(tokens ->> 'error', 'no ID token'));
    ELSE
        claims := mcp._jwt_claims(tokens ->> 'id_token', mcp._oidc_fetch(discovered ->> 'jwks_uri'));
        email := lower(coalesce(claims ->> 'email', claims ->> 'preferred_username', claims ->> 'upn'));
        IF claims ->> 'iss' IS DISTINCT FROM discovered ->> 'issuer' THEN
            refusal := 'the ID token names another issuer';
        ELSIF NOT ((claims -> 'aud') = to_jsonb(mcp.get_setting('oidc.client_id') #>> '{}')
                   OR (jsonb_typeof(claims -> 'aud') = 'array'
                       AND ((claims -> 'aud') ? (mcp.get_setting('oidc.client_id') #>> '{}')))) THEN
            refusal := 'the ID token is meant for another client';
        ELSIF coalesce((claims ->> 'exp')::numeric, 0) <= extract(epoch FROM now()) THEN
            refusal := 'the ID token has expired';
        ELSIF claims ->> 'nonce' IS DISTINCT FROM pending.oidc_nonce THEN
            refusal := 'the ID token''s nonce does not match';
        ELSIF email IS NULL OR email !~ '^[a-z0-9][a-z0-9._+-]*@[a-z0-9.-]+$' OR length(email) > 100 THEN
            refusal := 'the ID token names no usable e-mail address';
        ELSIF jsonb_array_length(domains) > 0 AND NOT (domains ? (split_part(email, '@', 2))) THEN
            refusal := format('the domain %s may not sign in here', split_part(email, '@', 2));
        END IF;
    END IF;
    IF refusal IS NOT NULL THEN
        PERFORM mcp._log_auth_event('upstream_sign_in_refused', false, email, NULL, pending.client_id, NULL, refusal);
        RETURN jsonb_build_object('action', 'error', 'status', 403, 'message', 'Sign-in refused: ' || refusal || '.');
    END IF;
    groups := ARRAY(SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(claims -> 'groups') = 'array'
                                                          THEN claims -> 'groups' ELSE '[]' END));
    wanted_role := CASE WHEN EXISTS (SELECT 1 FROM unnest(groups) g WHERE (mapping ->> g) = 'admin') THEN 'admin' ELSE 'reader' END;
    SELECT * INTO person FROM mcp.users u WHERE u.login = email;
    IF NOT FOUND THEN
        INSERT INTO mcp.users (login, display_name, role)
        VALUES (email, left(coalesce(nullif(regexp_replace(claims ->> 'name', '[[:cntrl:]]', '', 'g'), ''), email), 200), wanted_role)
        RETURNING * INTO person;
    ELSIF person.disabled THEN
        PERFORM mcp._log_auth_event('upstream_sign_in_refused', false, email, person.id, pending.client_id, NULL, 'disabled');
        RETURN jsonb_build_object('action', 'error', 'status', 403, 'message', 'This account is disabled: ask an administrator.');
    ELSIF person.role <> wanted_role AND mapping <> '{}' THEN
        -- The provider's groups decide the role of people it signs in.
        UPDATE mcp.users u SET role = wanted_role, updated_at = now() WHERE u.id = person.id RETURNING * INTO person;
    END IF;
    -- Membership of the local groups named like the person's upstream groups follows them.
    INSERT INTO mcp.group_members (group_id, user_id)
    SELECT g.id, person.id FROM mcp.user_groups g WHERE g.name = ANY (groups)
    ON CONFLICT DO NOTHING;
    DELETE FROM mcp.group_members m USING mcp.user_groups g
     WHERE m.group_id = g.id AND m.user_id = person.id AND g.name <> ALL (groups) AND cardinality(groups) > 0;
    UPDATE mcp.users u SET last_sign_in_at = now() WHERE u.id = person.id;
    PERFORM mcp._log_auth_event('upstream_sign_in', true, email, person.id, pending.client_id, NULL,
                                array_to_string(groups, ' '));
    RETURN mcp._oauth_signed_in(NULL, pending, person.id);
END
$$;
COMMENT ON FUNCTION mcp.oauth_oidc_callback(text, text, text) IS
'GET /oidc/callback: exchanges the upstream provider''s code (with the PKCE verifier and client secret), checks the ID token (RS256 signature against the JWKS, issuer, audience, expiry, nonce, allowed domain), makes or updates the person (role from oidc.group_roles, local groups named like upstream ones) and answers the consent page''s view, or {action: error, message}; refusals are recorded in mcp.auth_events.';

GRANT EXECUTE ON FUNCTION mcp.oauth_oidc_start(text, text), mcp.oauth_oidc_callback(text, text, text) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.set_oidc_client_secret(text) TO mcp_admin;
