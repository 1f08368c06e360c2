------------------------------------------------------------------------------------------
-- People. A person signs in with a login and password (hashed with scrypt, see
-- extension/password_hash.cpp) or through an upstream OpenID Connect provider. Whatever the
-- way in, the person acts through a row of mcp.api_keys (kind 'user' for the dashboard, kind
-- 'oauth' per OAuth client), so sessions, the query log, grants and revocation treat people
-- and API keys alike.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._hash_password(password text, cost integer) RETURNS text
AS 'MODULE_PATHNAME', 'mcp_hash_password' LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION mcp._hash_password(text, integer) IS 'Internal: scrypt hash of a password with a fresh salt, cost as log2 N';

CREATE FUNCTION mcp._verify_password(password text, stored text) RETURNS boolean
AS 'MODULE_PATHNAME', 'mcp_verify_password' LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION mcp._verify_password(text, text) IS 'Internal: whether a password matches a stored scrypt hash (constant-time comparison)';

CREATE FUNCTION mcp._log_auth_event(event text, success boolean, login text DEFAULT NULL,
                                    user_id integer DEFAULT NULL, oauth_client_id integer DEFAULT NULL,
                                    api_key_id integer DEFAULT NULL, detail text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO mcp.auth_events (event, success, login, user_id, oauth_client_id, api_key_id, detail)
    VALUES (event, success, left(login, 200), user_id, oauth_client_id, api_key_id, left(detail, 500))
$$;
COMMENT ON FUNCTION mcp._log_auth_event(text, boolean, text, integer, integer, integer, text) IS 'Internal: records one authentication event';

CREATE FUNCTION mcp._user_by_login(login text) RETURNS mcp.users
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_user mcp.users;
BEGIN
    SELECT * INTO found_user FROM mcp.users u WHERE u.login = lower(btrim(_user_by_login.login));
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no user with login %', coalesce(quote_literal(_user_by_login.login), 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List the people with SELECT * FROM mcp.users().';
    END IF;
    RETURN found_user;
END
$$;
COMMENT ON FUNCTION mcp._user_by_login(text) IS 'Internal: the user with that login, else an error naming it';

CREATE FUNCTION mcp._checked_password_hash(password text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF password IS NULL THEN
        RETURN NULL;
    END IF;
    IF length(password) < 10 OR octet_length(password) > 1024 THEN
        RAISE EXCEPTION 'a password has 10 to 1024 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A pass phrase of several words is long enough and easy to remember.';
    END IF;
    RETURN mcp._hash_password(password, (mcp.get_setting('auth.password_cost'))::integer);
END
$$;
COMMENT ON FUNCTION mcp._checked_password_hash(text) IS 'Internal: the hash of an acceptable password (10 to 1024 characters), NULL for NULL';

CREATE FUNCTION mcp._caller_person() RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT k.user_id FROM mcp.api_keys k WHERE k.id = mcp._caller_api_key()
$$;
COMMENT ON FUNCTION mcp._caller_person() IS 'Internal: the person (mcp.users id) the caller acts as, NULL for an API key or a direct SQL call';

-- Who did it, for created_by and granted_by: the person's login or the API key's name when
-- the bridge names the caller, else the database role, as before.
CREATE FUNCTION mcp._caller_name() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT coalesce(u.login, k.name) FROM mcp.api_keys k
                       LEFT JOIN mcp.users u ON u.id = k.user_id
                      WHERE k.id = mcp._caller_api_key()), session_user)
$$;
COMMENT ON FUNCTION mcp._caller_name() IS 'Internal: the caller''s name for created_by and granted_by (a person''s login, an API key''s name), the database role for a direct SQL call';

CREATE FUNCTION mcp.create_user(login text, display_name text, role text DEFAULT 'reader',
                                password text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id      integer;
    clean_login text := lower(btrim(create_user.login));
BEGIN
    IF clean_login IS NULL OR clean_login !~ '^[a-z0-9][a-z0-9._@+-]{0,99}$' THEN
        RAISE EXCEPTION 'a login is 1 to 100 letters, digits or . _ @ + - (an e-mail address will do)'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got %s.', coalesce(quote_literal(create_user.login), 'NULL'));
    END IF;
    IF create_user.display_name IS NULL OR length(btrim(create_user.display_name)) NOT BETWEEN 1 AND 200
       OR create_user.display_name ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'a display name has 1 to 200 printable characters'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF create_user.role IS NULL OR create_user.role NOT IN ('reader', 'admin') THEN
        RAISE EXCEPTION 'role must be reader or admin, not %', coalesce(quote_literal(create_user.role), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A reader queries the datasets granted to them; an admin sees and manages everything.';
    END IF;
    IF EXISTS (SELECT 1 FROM mcp.users u WHERE u.login = clean_login) THEN
        RAISE EXCEPTION 'a user with login "%" already exists', clean_login
            USING ERRCODE = 'unique_violation', HINT = 'Change it with mcp.set_password or mcp.set_user_role.';
    END IF;
    INSERT INTO mcp.users (login, display_name, role, password_hash, created_by)
    VALUES (clean_login, btrim(create_user.display_name), create_user.role,
            mcp._checked_password_hash(create_user.password), mcp._caller_name())
    RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION mcp.create_user(text, text, text, text) IS
'Creates a person (login, display name, role reader or admin, optional password of at least 10 characters, stored as an scrypt hash) and returns their id. Without a password the person signs in only through the upstream OpenID provider. A reader sees the datasets granted with mcp.grant_dataset; an admin sees all.';

CREATE FUNCTION mcp.set_password(login text, password text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(set_password.login);
BEGIN
    UPDATE mcp.users u SET password_hash = mcp._checked_password_hash(set_password.password),
                           failed_sign_ins = 0, locked_until = NULL, updated_at = now()
     WHERE u.id = target.id;
    -- A changed password ends the dashboard sessions opened with the old one.
    DELETE FROM mcp.ui_sessions s USING mcp.api_keys k
     WHERE s.api_key_id = k.id AND k.user_id = target.id AND k.kind = 'user';
    PERFORM mcp._log_auth_event('password_changed', true, target.login, target.id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.set_password(text, text) IS
'Sets (or with NULL removes) a person''s password, lifts a lockout, and ends their dashboard sessions.';

CREATE FUNCTION mcp.set_user_role(login text, role text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(set_user_role.login);
BEGIN
    IF set_user_role.role IS NULL OR set_user_role.role NOT IN ('reader', 'admin') THEN
        RAISE EXCEPTION 'role must be reader or admin, not %', coalesce(quote_literal(set_user_role.role), 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- An admin signed in as a person cannot lock themselves out of administration.
    IF set_user_role.role = 'reader' AND target.id = mcp._caller_person() THEN
        RAISE EXCEPTION 'you cannot take away your own admin role'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Another admin can.';
    END IF;
    UPDATE mcp.users u SET role = set_user_role.role, updated_at = now() WHERE u.id = target.id;
    -- Dashboard sessions carry the role of their sign-in; OAuth connections are downgraded
    -- at once and upgraded only by a new consent.
    UPDATE mcp.api_keys k SET role = set_user_role.role WHERE k.user_id = target.id AND k.kind = 'user';
    IF set_user_role.role = 'reader' THEN
        UPDATE mcp.api_keys k SET role = 'reader' WHERE k.user_id = target.id AND k.kind = 'oauth';
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.set_user_role(text, text) IS 'Makes a person a reader or an admin, on every bridge at once; a person cannot take away their own admin role.';

CREATE FUNCTION mcp.disable_user(login text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(disable_user.login);
BEGIN
    IF target.id = mcp._caller_person() THEN
        RAISE EXCEPTION 'you cannot disable your own account'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Another admin can.';
    END IF;
    UPDATE mcp.users u SET disabled = true, updated_at = now() WHERE u.id = target.id;
    -- Revoking the person's rows ends their sessions and tokens on every bridge at once.
    UPDATE mcp.api_keys k SET revoked_at = coalesce(k.revoked_at, now()) WHERE k.user_id = target.id;
    DELETE FROM mcp.ui_sessions s USING mcp.api_keys k WHERE s.api_key_id = k.id AND k.user_id = target.id;
    DELETE FROM mcp.mcp_sessions s USING mcp.api_keys k WHERE s.api_key_id = k.id AND k.user_id = target.id;
    PERFORM mcp._log_auth_event('user_disabled', true, target.login, target.id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.disable_user(text) IS
'Disables a person: no more sign-in, and their dashboard sessions, MCP sessions and OAuth tokens stop working at once. The row stays, for the query log. A person cannot disable themselves.';

CREATE FUNCTION mcp.enable_user(login text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(enable_user.login);
BEGIN
    UPDATE mcp.users u SET disabled = false, failed_sign_ins = 0, locked_until = NULL, updated_at = now()
     WHERE u.id = target.id;
    -- Old OAuth tokens stay dead; the person signs in and consents again.
    UPDATE mcp.api_keys k SET revoked_at = NULL WHERE k.user_id = target.id AND k.kind = 'user';
    PERFORM mcp._log_auth_event('user_enabled', true, target.login, target.id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.enable_user(text) IS 'Lets a disabled person sign in again (their old OAuth tokens stay revoked).';

CREATE FUNCTION mcp.users()
RETURNS TABLE (id integer, login text, display_name text, role text, disabled boolean,
               has_password boolean, locked_until timestamptz, groups text[],
               last_sign_in_at timestamptz, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.id, u.login, u.display_name, u.role, u.disabled, u.password_hash IS NOT NULL,
           CASE WHEN u.locked_until > now() THEN u.locked_until END,
           ARRAY(SELECT g.name FROM mcp.group_members m JOIN mcp.user_groups g ON g.id = m.group_id
                  WHERE m.user_id = u.id ORDER BY g.name),
           u.last_sign_in_at, u.created_at
      FROM mcp.users u
     ORDER BY u.login
$$;
COMMENT ON FUNCTION mcp.users() IS 'Lists the people: login, name, role, whether disabled, whether they have a password (never the hash), lockout, groups.';

CREATE FUNCTION mcp.add_group_member("group" text, login text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target   mcp.users := mcp._user_by_login(add_group_member.login);
    group_id integer;
BEGIN
    IF add_group_member."group" IS NULL OR length(add_group_member."group") NOT BETWEEN 1 AND 100
       OR add_group_member."group" ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'a group name has 1 to 100 printable characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO mcp.user_groups (name) VALUES (add_group_member."group") ON CONFLICT (name) DO NOTHING;
    SELECT g.id INTO group_id FROM mcp.user_groups g WHERE g.name = add_group_member."group";
    INSERT INTO mcp.group_members (group_id, user_id) VALUES (group_id, target.id) ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION mcp.add_group_member(text, text) IS 'Puts a person in a group (made if new); false when they were in it already.';

CREATE FUNCTION mcp.remove_group_member("group" text, login text) RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM mcp.group_members m USING mcp.user_groups g, mcp.users u
         WHERE m.group_id = g.id AND m.user_id = u.id
           AND g.name = remove_group_member."group" AND u.login = lower(btrim(remove_group_member.login))
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM gone)
$$;
COMMENT ON FUNCTION mcp.remove_group_member(text, text) IS 'Takes a person out of a group; false when they were not in it.';

-- The mcp.api_keys row a person acts through: one for the dashboard (kind user), one per
-- OAuth client (kind oauth). Its secret hash is random: such a row is never a usable API key.
CREATE FUNCTION mcp._person_principal(user_id integer, oauth_client_id integer DEFAULT NULL,
                                      role text DEFAULT NULL, scopes text[] DEFAULT '{}')
RETURNS integer
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person     mcp.users;
    principal  integer;
    wanted_kind text := CASE WHEN oauth_client_id IS NULL THEN 'user' ELSE 'oauth' END;
    wanted_role text;
BEGIN
    SELECT * INTO STRICT person FROM mcp.users u WHERE u.id = _person_principal.user_id;
    wanted_role := coalesce(_person_principal.role, person.role);
    SELECT k.id INTO principal FROM mcp.api_keys k
     WHERE k.user_id = person.id AND k.kind = wanted_kind
       AND k.oauth_client_id IS NOT DISTINCT FROM _person_principal.oauth_client_id;
    IF FOUND THEN
        UPDATE mcp.api_keys k SET role = wanted_role, scopes = coalesce(_person_principal.scopes, '{}'),
                                  revoked_at = NULL
         WHERE k.id = principal
           AND (k.role, k.scopes, k.revoked_at IS NULL) IS DISTINCT FROM
               (wanted_role, coalesce(_person_principal.scopes, '{}'), true);
        RETURN principal;
    END IF;
    INSERT INTO mcp.api_keys (name, role, key_prefix, secret_hash, kind, user_id, oauth_client_id, scopes)
    VALUES (CASE WHEN wanted_kind = 'user' THEN 'user:' || person.login
                 ELSE 'oauth:' || _person_principal.oauth_client_id || ':' || person.login END,
            wanted_role,
            wanted_kind || '_' || left(mcp._ui_random_hex(), 16),
            sha256(uuid_send(gen_random_uuid())), wanted_kind, person.id,
            _person_principal.oauth_client_id, coalesce(_person_principal.scopes, '{}'))
    RETURNING id INTO principal;
    RETURN principal;
END
$$;
COMMENT ON FUNCTION mcp._person_principal(integer, integer, text, text[]) IS 'Internal: the mcp.api_keys row a person acts through (dashboard, or one OAuth client), made or refreshed';

-- Checks a login and password with lockout. Never raises for a wrong guess: the failure
-- count must be committed, so the caller gets a row whose error says what went wrong.
CREATE FUNCTION mcp._check_password_sign_in(login text, password text)
RETURNS TABLE (user_id integer, error text)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person      mcp.users;
    clean_login text := lower(btrim(coalesce(_check_password_sign_in.login, '')));
    max_fail    integer := (mcp.get_setting('auth.max_failed_sign_ins'))::integer;
    base_lock   integer := (mcp.get_setting('auth.lockout_seconds'))::integer;
    matches     boolean;
BEGIN
    IF length(clean_login) > 100 OR password IS NULL OR octet_length(password) > 1024 THEN
        PERFORM mcp._log_auth_event('sign_in_refused', false, clean_login, NULL, NULL, NULL, 'malformed');
        RETURN QUERY SELECT NULL::integer, 'the login or password is wrong'::text;
        RETURN;
    END IF;
    SELECT * INTO person FROM mcp.users u WHERE u.login = clean_login FOR UPDATE;
    IF NOT FOUND OR person.password_hash IS NULL THEN
        -- The same work as a real check, so timing does not tell which logins exist.
        PERFORM mcp._hash_password(password, (mcp.get_setting('auth.password_cost'))::integer);
        PERFORM mcp._log_auth_event('sign_in_refused', false, clean_login, person.id, NULL, NULL,
                                    CASE WHEN person.id IS NULL THEN 'unknown login' ELSE 'no password set' END);
        RETURN QUERY SELECT NULL::integer, 'the login or password is wrong'::text;
        RETURN;
    END IF;
    IF person.locked_until > now() THEN
        PERFORM mcp._log_auth_event('sign_in_refused', false, clean_login, person.id, NULL, NULL, 'locked');
        RETURN QUERY SELECT NULL::integer,
            format('too many failed sign-ins: try again in %s seconds',
                   ceil(extract(epoch FROM person.locked_until - now()))::integer);
        RETURN;
    END IF;
    matches := mcp._verify_password(password, person.password_hash);
    IF NOT matches THEN
        UPDATE mcp.users u SET failed_sign_ins = u.failed_sign_ins + 1,
               locked_until = CASE WHEN u.failed_sign_ins + 1 >= max_fail
                                   THEN now() + make_interval(secs => least(3600,
                                            base_lock * power(2, least(20, u.failed_sign_ins + 1 - max_fail))))
                              END
         WHERE u.id = person.id;
        PERFORM mcp._log_auth_event('sign_in_refused', false, clean_login, person.id, NULL, NULL, 'wrong password');
        RETURN QUERY SELECT NULL::integer, 'the login or password is wrong'::text;
        RETURN;
    END IF;
    IF person.disabled THEN
        PERFORM mcp._log_auth_event('sign_in_refused', false, clean_login, person.id, NULL, NULL, 'disabled');
        RETURN QUERY SELECT NULL::integer, 'this account is disabled: ask an administrator'::text;
        RETURN;
    END IF;
    UPDATE mcp.users u SET failed_sign_ins = 0, locked_until = NULL, last_sign_in_at = now()
     WHERE u.id = person.id;
    RETURN QUERY SELECT person.id, NULL::text;
END
$$;
COMMENT ON FUNCTION mcp._check_password_sign_in(text, text) IS 'Internal: checks a login and password with lockout and backoff, recording failures; (user_id, NULL) or (NULL, error)';

CREATE FUNCTION mcp.ui_sign_in_password(login text, password text, user_agent text DEFAULT NULL,
                                        lifetime interval DEFAULT '12 hours')
RETURNS TABLE (session_token text, csrf_token text, api_key_id integer, key_name text,
               role text, expires_at timestamptz, error text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    checked   record;
    person    mcp.users;
    principal integer;
    token     text := mcp._ui_random_hex();
    csrf      text := mcp._ui_random_hex();
BEGIN
    IF lifetime IS NULL OR lifetime <= interval '0' OR lifetime > interval '30 days' THEN
        RAISE EXCEPTION 'a dashboard session lasts more than 0 and at most 30 days'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO checked FROM mcp._check_password_sign_in(ui_sign_in_password.login, ui_sign_in_password.password);
    IF checked.user_id IS NULL THEN
        error := checked.error;
        RETURN NEXT;
        RETURN;
    END IF;
    SELECT * INTO person FROM mcp.users u WHERE u.id = checked.user_id;
    principal := mcp._person_principal(person.id);
    DELETE FROM mcp.ui_sessions s WHERE s.expires_at <= now();
    INSERT INTO mcp.ui_sessions (token_hash, api_key_id, csrf_token, user_agent, expires_at)
    VALUES (sha256(convert_to(token, 'UTF8')), principal, csrf, left(ui_sign_in_password.user_agent, 500),
            now() + lifetime);
    PERFORM mcp._log_auth_event('dashboard_sign_in', true, person.login, person.id, NULL, principal);
    session_token := token;
    csrf_token := csrf;
    api_key_id := principal;
    key_name := person.display_name;
    role := person.role;
    expires_at := now() + lifetime;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION mcp.ui_sign_in_password(text, text, text, interval) IS
'Signs a browser in to the dashboard with a person''s login and password: as mcp.ui_sign_in, plus error, set (and the rest NULL) when the login or password is wrong, the login is locked after repeated failures, or the account is disabled. Failures are counted and recorded in mcp.auth_events.';

CREATE FUNCTION mcp.auth_events(since interval DEFAULT '7 days', max_rows integer DEFAULT 1000)
RETURNS SETOF mcp.auth_events
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM mcp.auth_events e WHERE e.created_at >= now() - since
     ORDER BY e.id DESC LIMIT greatest(0, least(max_rows, 100000))
$$;
COMMENT ON FUNCTION mcp.auth_events(interval, integer) IS 'Recent sign-ins, consents, token issues and refusals, newest first.';

GRANT EXECUTE ON FUNCTION mcp.ui_sign_in_password(text, text, text, interval) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.create_user(text, text, text, text), mcp.set_password(text, text),
    mcp.set_user_role(text, text), mcp.disable_user(text), mcp.enable_user(text), mcp.users(),
    mcp.add_group_member(text, text), mcp.remove_group_member(text, text),
    mcp.auth_events(interval, integer)
TO mcp_admin;
