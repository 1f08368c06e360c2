------------------------------------------------------------------------------------------
-- OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document, the
-- registration the MCP authorization specification recommends): a client whose client_id is
-- an https URL publishes its metadata (client_name, redirect_uris, ...) at that URL, and this
-- server fetches it at /authorize and /token instead of asking the client to register.
--
-- The fetch (mcp._client_metadata_fetch, in C) is https only, at most 5 KB, 5 s, no redirect,
-- JSON only, and refuses hosts on loopback, private or link-local addresses unless an admin
-- allows them. A valid document becomes a row of mcp.oauth_clients (registration
-- 'metadata_document', client_id = the URL) kept until its Cache-Control max-age ends (1 min
-- to 1 day; 1 h when it says nothing), so every bridge serves it, and an admin disables it
-- like any client (mcp.disable_oauth_client): a disabled one is never fetched again.
------------------------------------------------------------------------------------------
INSERT INTO mcp.setting_defaults (key, value, description) VALUES
 ('oauth.client_metadata_documents', 'true', 'Whether MCP clients may use the https URL of their Client ID Metadata Document as client_id (this server fetches the document)'),
 ('oauth.client_metadata_allow_private', 'false', 'For tests and closed networks only: fetch client metadata documents from hosts on loopback, private and link-local addresses too (refused by default: server-side request forgery)'),
 ('oauth.client_metadata_ca_file', '""', 'A CA bundle (a file on the database server) trusted for client metadata documents besides the system''s; empty: the system''s only');

CREATE FUNCTION mcp._client_metadata_fetch(url text, allow_private_addresses boolean, ca_file text) RETURNS jsonb
AS 'MODULE_PATHNAME', 'mcp_client_metadata_fetch' LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION mcp._client_metadata_fetch(text, boolean, text) IS 'Internal: GET a client metadata document (https, at most 5 KB, 5 s, no redirect, application/json, public addresses unless allowed) and answer {document, max_age}; an error says why not';

-- Why a client_id cannot be a metadata document URL (the draft's section 3), NULL when it can.
CREATE FUNCTION mcp._oauth_client_id_url_problem(url text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN url IS NULL OR url !~ '^https://' THEN 'the client_id URL must use https'
        WHEN length(url) > 2000 THEN 'the client_id URL is longer than 2000 characters'
        WHEN url ~ '[[:space:][:cntrl:]\\]' THEN 'the client_id URL contains spaces, control characters or backslashes'
        WHEN position('#' IN url) > 0 THEN 'the client_id URL must not have a fragment'
        WHEN url ~ '^https://[^/?]*@' THEN 'the client_id URL must not contain a user name or password'
        WHEN url !~ '^https://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?([/?]|$)' THEN 'the client_id URL has no valid host'
        WHEN url !~ '^https://[^/?]+/[^?]' THEN 'the client_id URL must have a path'
        WHEN substring(url FROM '^https://[^/?]+(/[^?]*)') ~* '/(\.|%2e){1,2}(/|$)'
            THEN 'the client_id URL must not contain . or .. path segments'
    END
$$;
COMMENT ON FUNCTION mcp._oauth_client_id_url_problem(text) IS 'Internal: why a URL cannot be a client_id metadata document URL (https, a path, no fragment, no credentials, no dot segments), NULL when it can';

-- Why a fetched document cannot describe the client at url (the draft's sections 4 and 8),
-- NULL when it can. Such clients are public: any client secret is refused.
CREATE FUNCTION mcp._oauth_client_metadata_problem(url text, document jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bad text;
BEGIN
    IF document ->> 'client_id' IS DISTINCT FROM url OR jsonb_typeof(document -> 'client_id') <> 'string' THEN
        RETURN 'its client_id is not exactly the URL it was fetched from';
    END IF;
    IF document ? 'client_secret' OR document ? 'client_secret_expires_at' THEN
        RETURN 'it contains a client secret, which a metadata document must never publish';
    END IF;
    IF coalesce(document ->> 'token_endpoint_auth_method', 'none') <> 'none' THEN
        RETURN format('token_endpoint_auth_method %s is not offered: such clients are public (none)',
                      left(document ->> 'token_endpoint_auth_method', 60));
    END IF;
    IF jsonb_typeof(document -> 'redirect_uris') IS DISTINCT FROM 'array'
       OR jsonb_array_length(document -> 'redirect_uris') NOT BETWEEN 1 AND 20
       OR EXISTS (SELECT 1 FROM jsonb_array_elements(document -> 'redirect_uris') e WHERE jsonb_typeof(e) <> 'string') THEN
        RETURN 'redirect_uris must be an array of 1 to 20 URIs';
    END IF;
    SELECT u INTO bad FROM jsonb_array_elements_text(document -> 'redirect_uris') u
     WHERE NOT mcp._oauth_redirect_uri_ok(u) LIMIT 1;
    IF FOUND THEN
        RETURN format('redirect URI %s is not allowed: use https, or http on localhost (no fragment)', left(bad, 200));
    END IF;
    IF document ? 'grant_types' AND (jsonb_typeof(document -> 'grant_types') <> 'array' OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(document -> 'grant_types') g
            WHERE g NOT IN ('"authorization_code"', '"refresh_token"'))) THEN
        RETURN 'only the grant types authorization_code and refresh_token are offered';
    END IF;
    IF document ? 'response_types' AND (jsonb_typeof(document -> 'response_types') <> 'array' OR EXISTS (
           SELECT 1 FROM jsonb_array_elements(document -> 'response_types') r WHERE r <> '"code"')) THEN
        RETURN 'only the response type code is offered';
    END IF;
    IF document ? 'client_name' AND jsonb_typeof(document -> 'client_name') <> 'string' THEN
        RETURN 'client_name must be a string';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._oauth_client_metadata_problem(text, jsonb) IS 'Internal: why a client metadata document cannot be used for the client_id URL it was fetched from (client_id differs, a secret or a confidential auth method, bad redirect URIs, grant or response types), NULL when it can';

-- The client of a metadata document URL: the stored one while its document is fresh (or
-- when an admin disabled it), else the document fetched, checked and stored anew. problem
-- says why there is none.
CREATE FUNCTION mcp._oauth_metadata_client(url text, OUT client mcp.oauth_clients, OUT problem text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    fetched   jsonb;
    document  jsonb;
    name      text;
    lifetime  integer;
    detail    text;
BEGIN
    SELECT * INTO client FROM mcp.oauth_clients c WHERE c.client_id = url;
    IF FOUND AND (client.registration <> 'metadata_document' OR client.disabled
                  OR client.document_expires_at > now()) THEN
        RETURN;
    END IF;
    client := NULL;
    IF NOT (mcp.get_setting('oauth.client_metadata_documents'))::boolean THEN
        problem := 'client metadata documents are turned off on this server';
        RETURN;
    END IF;
    problem := mcp._oauth_client_id_url_problem(url);
    IF problem IS NOT NULL THEN
        RETURN;
    END IF;
    BEGIN
        fetched := mcp._client_metadata_fetch(url,
            (mcp.get_setting('oauth.client_metadata_allow_private'))::boolean,
            nullif(mcp.get_setting('oauth.client_metadata_ca_file') #>> '{}', ''));
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
        problem := regexp_replace(SQLERRM, '^client metadata document: ', '') || coalesce(' (' || nullif(detail, '') || ')', '');
        RETURN;
    END;
    document := fetched -> 'document';
    problem := mcp._oauth_client_metadata_problem(url, document);
    IF problem IS NOT NULL THEN
        RETURN;
    END IF;
    name := left(regexp_replace(coalesce(nullif(btrim(document ->> 'client_name'), ''),
                                         substring(url FROM '^https://([^/?]+)')),
                                '[[:cntrl:]]', ' ', 'g'), 200);
    lifetime := least(greatest(coalesce((fetched ->> 'max_age')::bigint, 3600), 60), 86400);
    INSERT INTO mcp.oauth_clients AS c (client_id, client_name, redirect_uris, registration, client_uri,
                                        software, created_by, document_fetched_at, document_expires_at)
    VALUES (url, name, ARRAY(SELECT jsonb_array_elements_text(document -> 'redirect_uris')), 'metadata_document',
            left(document ->> 'client_uri', 500),
            left(concat_ws(' ', document ->> 'software_id', document ->> 'software_version'), 200),
            'client metadata document', now(), now() + make_interval(secs => lifetime))
    ON CONFLICT (client_id) DO UPDATE
       SET client_name = EXCLUDED.client_name, redirect_uris = EXCLUDED.redirect_uris,
           client_uri = EXCLUDED.client_uri, software = EXCLUDED.software,
           document_fetched_at = EXCLUDED.document_fetched_at, document_expires_at = EXCLUDED.document_expires_at
     WHERE c.registration = 'metadata_document' AND NOT c.disabled
    RETURNING * INTO client;
    IF client.id IS NULL THEN
        -- Disabled by an admin (or registered otherwise) while this was being fetched.
        SELECT * INTO client FROM mcp.oauth_clients c WHERE c.client_id = url;
    END IF;
END
$$;
COMMENT ON FUNCTION mcp._oauth_metadata_client(text) IS 'Internal: the client of a client_id metadata document URL, from the stored copy while fresh, else fetched, checked and stored; problem says why there is none';

-- The client a client_id names at /authorize, /token and /revoke: a registered one, or one
-- of a metadata document URL. problem is set (client NULL) when there is none to use.
CREATE FUNCTION mcp._oauth_client_for(client_id text, OUT client mcp.oauth_clients, OUT problem text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    resolved record;
BEGIN
    IF client_id ~* '^https?://' THEN
        SELECT * INTO resolved FROM mcp._oauth_metadata_client(client_id) m;
        client := resolved.client;
        problem := resolved.problem;
    ELSE
        SELECT * INTO client FROM mcp.oauth_clients c WHERE c.client_id = _oauth_client_for.client_id;
    END IF;
    IF problem IS NULL AND client.id IS NULL THEN
        problem := 'unknown client_id';
    ELSIF problem IS NULL AND client.disabled THEN
        problem := 'the client is disabled';
    END IF;
    IF problem IS NOT NULL THEN
        client := NULL;
    END IF;
END
$$;
COMMENT ON FUNCTION mcp._oauth_client_for(text) IS 'Internal: the enabled client a client_id names (registered, or resolved from its metadata document URL), or why there is none';
