-- The dashboard's admin pages (people, grants, OAuth clients; extension/sql/81_ui_people.sql,
-- brought in by the symlinked part before this one), and the changes they need elsewhere:
-- people cannot demote or disable themselves, people and grants record who made them (the
-- caller's login or key name), the log names the OAuth client and lists the people for the
-- log page's person filter.

CREATE FUNCTION mcp._caller_person() RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT k.user_id FROM mcp.api_keys k WHERE k.id = mcp._caller_api_key()
$$;
COMMENT ON FUNCTION mcp._caller_person() IS 'Internal: the person (mcp.users id) the caller acts as, NULL for an API key or a direct SQL call';

CREATE FUNCTION mcp._caller_name() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce((SELECT coalesce(u.login, k.name) FROM mcp.api_keys k
                       LEFT JOIN mcp.users u ON u.id = k.user_id
                      WHERE k.id = mcp._caller_api_key()), session_user)
$$;
COMMENT ON FUNCTION mcp._caller_name() IS 'Internal: the caller''s name for created_by and granted_by (a person''s login, an API key''s name), the database role for a direct SQL call';

CREATE OR REPLACE FUNCTION mcp.create_user(login text, display_name text, role text DEFAULT 'reader',
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

CREATE OR REPLACE FUNCTION mcp.set_user_role(login text, role text) RETURNS boolean
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

CREATE OR REPLACE FUNCTION mcp.disable_user(login text) RETURNS boolean
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

CREATE OR REPLACE FUNCTION mcp.grant_dataset(dataset_id integer, to_user text DEFAULT NULL,
                                  to_group text DEFAULT NULL, to_api_key text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    who record := mcp._grantee(to_user, to_group, to_api_key);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mcp.datasets d WHERE d.id = grant_dataset.dataset_id) THEN
        RAISE EXCEPTION 'dataset % does not exist', coalesce(grant_dataset.dataset_id::text, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List the datasets with SELECT * FROM mcp.datasets().';
    END IF;
    IF EXISTS (SELECT 1 FROM mcp.dataset_grants g
                WHERE g.dataset_id = grant_dataset.dataset_id
                  AND (g.user_id = who.user_id OR g.group_id = who.group_id OR g.api_key_id = who.api_key_id)) THEN
        RETURN false;
    END IF;
    INSERT INTO mcp.dataset_grants (dataset_id, user_id, group_id, api_key_id, granted_by)
    VALUES (grant_dataset.dataset_id, who.user_id, who.group_id, who.api_key_id, mcp._caller_name());
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.grant_dataset(integer, text, text, text) IS
'Lets one person (to_user => login), group (to_group) or API key (to_api_key => name) see and query a dataset; false when it was granted already. Admins need no grants.';

CREATE OR REPLACE FUNCTION mcp.search_query_logs(filters jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    f        jsonb := coalesce(filters, '{}');
    skip_n   integer;
    limit_n  integer;
    total    bigint;
    items    jsonb;
BEGIN
    IF jsonb_typeof(f) <> 'object' THEN
        RAISE EXCEPTION 'filters must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    BEGIN
        skip_n := coalesce((f ->> 'skip')::integer, 0);
        limit_n := coalesce((f ->> 'limit')::integer, 100);
    EXCEPTION WHEN invalid_text_representation OR numeric_value_out_of_range THEN
        RAISE EXCEPTION 'skip and limit are integers' USING ERRCODE = 'invalid_parameter_value';
    END;
    IF skip_n < 0 OR limit_n NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'skip must be 0 or more and limit from 1 to 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH matching AS (SELECT * FROM mcp._matching_query_logs(f))
    SELECT (SELECT count(*) FROM matching),
           (SELECT coalesce(jsonb_agg(to_jsonb(page) || jsonb_build_object('user_login',
                        (SELECT u.login FROM mcp.users u WHERE u.id = page.user_id),
                        'oauth_client_name',
                        (SELECT c.client_name FROM mcp.oauth_clients c WHERE c.id = page.oauth_client_id))
                        ORDER BY page.created_at DESC, page.id DESC), '[]')
              FROM (SELECT * FROM matching m ORDER BY m.created_at DESC, m.id DESC OFFSET skip_n LIMIT limit_n) page)
      INTO total, items;
    RETURN jsonb_build_object('total', total, 'skip', skip_n, 'limit', limit_n, 'items', items);
END
$$;
COMMENT ON FUNCTION mcp.search_query_logs(jsonb) IS
'GET /api/logs: query log rows, newest first (each with user_login, the person it ran for, and oauth_client_name, the OAuth client they connected with), filtered by {client, tool, success, dataset_id, api_key_id, user (a person''s login), session_id, since, until (timestamps or ages such as 24h, 7d), q (text in the query or error), house_rule (raw_rows, min_cells, any, none), skip, limit}; answers {total, skip, limit, items}.';

CREATE OR REPLACE FUNCTION mcp.ui_logs_page(filters jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN jsonb_build_object(
        'logs', mcp.search_query_logs(filters),
        'stats', mcp.query_log_stats(coalesce(filters, '{}') - 'skip' - 'limit'),
        'clients', (SELECT coalesce(jsonb_agg(c.client_name ORDER BY c.client_name), '[]')
                      FROM mcp.query_log_clients() c),
        'people', (SELECT coalesce(jsonb_agg(jsonb_build_object('login', p.login, 'display_name', p.display_name)
                                             ORDER BY p.login), '[]')
                     FROM mcp.query_log_people() p));
END
$$;
COMMENT ON FUNCTION mcp.ui_logs_page(jsonb) IS
'The dashboard''s query-log page: a page of matching entries (mcp.search_query_logs), the statistics for its charts (mcp.query_log_stats over the same filters), the client names for the client filter and the people (login, name) for the person filter.';
