------------------------------------------------------------------------------------------
-- API keys: the credentials of MCP and REST clients. The secret is shown once, at creation;
-- only its SHA-256 hash is stored, so a stolen table or dump yields no usable key.
------------------------------------------------------------------------------------------
-- Lookups go by hash: a 244-bit random secret needs no slow hash and no per-key salt.
CREATE UNIQUE INDEX api_keys_secret_hash_idx ON mcp.api_keys (secret_hash);

-- Revocation and expiry reach every bridge at once through the hot-reload channel.
CREATE FUNCTION mcp._notify_api_key_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('mcp_analytics', json_build_object(
        'event', 'api_key_' || lower(TG_OP),
        'api_key_id', CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._notify_api_key_change() IS 'Trigger: NOTIFY mcp_analytics with {event: api_key_update|api_key_delete, api_key_id} so bridges drop cached key checks';
CREATE TRIGGER api_keys_notify AFTER UPDATE OF revoked_at, expires_at, role OR DELETE ON mcp.api_keys
    FOR EACH ROW EXECUTE FUNCTION mcp._notify_api_key_change();

CREATE FUNCTION mcp.create_api_key(name text, role text, expires_at timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    secret  text;
    attempt integer := 0;
BEGIN
    IF create_api_key.name IS NULL OR length(create_api_key.name) NOT BETWEEN 1 AND 100
       OR create_api_key.name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'an API key needs a name of 1 to 100 printable characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF create_api_key.name ~ '^(user|oauth):' THEN
        RAISE EXCEPTION 'API key names starting with "user:" or "oauth:" are reserved for people'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF create_api_key.role IS NULL OR create_api_key.role NOT IN ('reader', 'admin') THEN
        RAISE EXCEPTION 'role must be reader or admin, not %', coalesce(quote_literal(create_api_key.role), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A reader key queries datasets and reads the registry; an admin key also registers, edits and approves.';
    END IF;
    IF create_api_key.expires_at IS NOT NULL AND create_api_key.expires_at <= now() THEN
        RAISE EXCEPTION 'expires_at must lie in the future'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL for a key that does not expire.';
    END IF;
    IF EXISTS (SELECT 1 FROM mcp.api_keys k WHERE k.name = create_api_key.name) THEN
        RAISE EXCEPTION 'an API key named "%" already exists', create_api_key.name
            USING ERRCODE = 'unique_violation',
                  HINT = 'Choose another name, or revoke that key with mcp.revoke_api_key first.';
    END IF;
    LOOP
        -- Two version-4 UUIDs give 244 bits from the server's strong random source.
        secret := 'mcp_' || encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex');
        BEGIN
            INSERT INTO mcp.api_keys (name, role, key_prefix, secret_hash, expires_at)
            VALUES (create_api_key.name, create_api_key.role, left(secret, 12),
                    sha256(convert_to(secret, 'UTF8')), create_api_key.expires_at);
            RETURN secret;
        EXCEPTION WHEN unique_violation THEN
            -- Only the 8 hex digits of the displayed prefix can collide; draw again.
            attempt := attempt + 1;
            IF attempt >= 5 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION mcp.create_api_key(text, text, timestamptz) IS
'Creates an API key for MCP and REST clients (role reader or admin, optional expiry) and returns its secret. The secret is shown only this once: only its SHA-256 hash is stored. Clients send it as "Authorization: Bearer <secret>".';

CREATE FUNCTION mcp.revoke_api_key(name text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key_id integer;
BEGIN
    UPDATE mcp.api_keys k SET revoked_at = coalesce(k.revoked_at, now())
     WHERE k.name = revoke_api_key.name AND k.kind = 'key'
    RETURNING k.id INTO key_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no API key named %', coalesce(quote_literal(revoke_api_key.name), 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List the keys with SELECT * FROM mcp.api_keys().';
    END IF;
    -- Its MCP sessions end with it.
    DELETE FROM mcp.mcp_sessions s WHERE s.api_key_id = key_id;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.revoke_api_key(text) IS
'Revokes an API key by name, at once on every bridge, and ends its MCP sessions. The row stays, for the query log''s api_key_id.';

CREATE FUNCTION mcp.api_keys()
RETURNS TABLE (id integer, name text, role text, key_prefix text, status text, created_by text,
               created_at timestamptz, expires_at timestamptz, revoked_at timestamptz,
               last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT k.id, k.name, k.role, k.key_prefix,
           CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                WHEN k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'expired'
                ELSE 'active' END,
           k.created_by, k.created_at, k.expires_at, k.revoked_at, k.last_used_at
      FROM mcp.api_keys k
     WHERE k.kind = 'key'
     ORDER BY k.id
$$;
COMMENT ON FUNCTION mcp.api_keys() IS
'Lists API keys with their status (active, expired, revoked) and the first characters of each secret (key_prefix); never the secret or its hash.';

CREATE FUNCTION mcp.authenticate(secret text)
RETURNS TABLE (api_key_id integer, name text, role text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_key mcp.api_keys;
BEGIN
    IF secret IS NULL OR length(secret) > 200 THEN
        RETURN;
    END IF;
    SELECT * INTO found_key FROM mcp.api_keys k
     WHERE k.secret_hash = sha256(convert_to(secret, 'UTF8'))
       AND k.kind = 'key'
       AND k.revoked_at IS NULL
       AND (k.expires_at IS NULL OR k.expires_at > now());
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- A write per request would make every call contend on one row; a minute is precise enough.
    IF found_key.last_used_at IS NULL OR found_key.last_used_at < now() - interval '1 minute' THEN
        UPDATE mcp.api_keys k SET last_used_at = now() WHERE k.id = found_key.id;
    END IF;
    api_key_id := found_key.id;
    name := found_key.name;
    role := found_key.role;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION mcp.authenticate(text) IS
'The API key a secret belongs to (id, name, role), or no row when the secret is unknown, revoked or expired. Called by the bridge on each request it has not checked recently; records last_used_at.';

GRANT EXECUTE ON FUNCTION mcp.authenticate(text) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.create_api_key(text, text, timestamptz), mcp.revoke_api_key(text),
    mcp.api_keys() TO mcp_admin;
