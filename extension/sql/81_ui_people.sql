------------------------------------------------------------------------------------------
-- Dashboard pages for admins: people, who may use a dataset, OAuth clients. Each page is one
-- call that answers JSON; each action is one of the functions of parts 75 to 77 or one
-- below. All are granted to mcp_admin only: a reader's session is refused here by
-- PostgreSQL, whatever the bridge does. Never a password hash, secret or token leaves.
------------------------------------------------------------------------------------------

CREATE FUNCTION mcp.unlock_user(login text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target mcp.users := mcp._user_by_login(unlock_user.login);
BEGIN
    UPDATE mcp.users u SET failed_sign_ins = 0, locked_until = NULL, updated_at = now()
     WHERE u.id = target.id AND (u.failed_sign_ins > 0 OR u.locked_until IS NOT NULL);
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM mcp._log_auth_event('user_unlocked', true, target.login, target.id);
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.unlock_user(text) IS
'Lifts a person''s sign-in lockout and forgets their failed sign-ins (the password stays); false when there was nothing to lift.';

CREATE FUNCTION mcp.revoke_oauth_client_tokens(client_id text) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target  integer;
    revoked integer;
BEGIN
    SELECT c.id INTO target FROM mcp.oauth_clients c WHERE c.client_id = revoke_oauth_client_tokens.client_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no OAuth client %', coalesce(quote_literal(left(revoke_oauth_client_tokens.client_id, 200)), 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List them with SELECT * FROM mcp.oauth_clients().';
    END IF;
    -- Expired tokens are left alone: they open nothing, and the count tells what was live.
    UPDATE mcp.oauth_tokens t SET revoked_at = now()
     WHERE t.client_id = target AND t.revoked_at IS NULL AND t.expires_at > now();
    GET DIAGNOSTICS revoked = ROW_COUNT;
    PERFORM mcp._log_auth_event('tokens_revoked', true, NULL, NULL, target, NULL,
                                format('%s tokens of the client revoked by an admin', revoked));
    RETURN revoked;
END
$$;
COMMENT ON FUNCTION mcp.revoke_oauth_client_tokens(text) IS
'Revokes every access and refresh token an OAuth client holds, for every person, at once on every bridge, and returns how many; the client stays registered and people connect again by signing in.';

CREATE FUNCTION mcp.enable_oauth_client(client_id text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE mcp.oauth_clients c SET disabled = false WHERE c.client_id = enable_oauth_client.client_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no OAuth client %', coalesce(quote_literal(left(enable_oauth_client.client_id, 200)), 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'List them with SELECT * FROM mcp.oauth_clients().';
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION mcp.enable_oauth_client(text) IS
'Lets a disabled OAuth client in again; the tokens revoked when it was disabled stay revoked, so people sign in and consent anew.';

CREATE FUNCTION mcp.ui_people_page() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'people', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'id', u.id, 'login', u.login, 'display_name', u.display_name, 'role', u.role,
                       'disabled', u.disabled, 'has_password', u.password_hash IS NOT NULL,
                       'failed_sign_ins', u.failed_sign_ins,
                       'locked_until', CASE WHEN u.locked_until > now() THEN u.locked_until END,
                       'groups', to_jsonb(ARRAY(SELECT g.name FROM mcp.group_members m
                                                  JOIN mcp.user_groups g ON g.id = m.group_id
                                                 WHERE m.user_id = u.id ORDER BY g.name)),
                       'datasets', (SELECT count(DISTINCT gr.dataset_id) FROM mcp.dataset_grants gr
                                     WHERE gr.user_id = u.id
                                        OR gr.group_id IN (SELECT m.group_id FROM mcp.group_members m
                                                            WHERE m.user_id = u.id)),
                       'last_sign_in_at', u.last_sign_in_at, 'created_at', u.created_at)
                       ORDER BY u.login), '[]')
                     FROM mcp.users u),
        'groups', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'name', g.name,
                       'members', (SELECT count(*) FROM mcp.group_members m WHERE m.group_id = g.id))
                       ORDER BY g.name), '[]')
                     FROM mcp.user_groups g))
$$;
COMMENT ON FUNCTION mcp.ui_people_page() IS
'The dashboard''s people page: every person (login, name, role, disabled, whether they have a password, failed sign-ins and lockout, groups, number of datasets granted to them or their groups, last sign-in) and the groups with their member counts. Admins only; never a password hash.';

CREATE FUNCTION mcp.ui_person_page(user_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    person mcp.users;
BEGIN
    SELECT * INTO person FROM mcp.users u WHERE u.id = ui_person_page.user_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'there is no person with id %', coalesce(ui_person_page.user_id::text, 'NULL')
            USING ERRCODE = 'no_data_found', HINT = 'The people page lists them.';
    END IF;
    RETURN jsonb_build_object(
        'person', jsonb_build_object(
            'id', person.id, 'login', person.login, 'display_name', person.display_name,
            'role', person.role, 'disabled', person.disabled,
            'has_password', person.password_hash IS NOT NULL,
            'failed_sign_ins', person.failed_sign_ins,
            'locked_until', CASE WHEN person.locked_until > now() THEN person.locked_until END,
            'last_sign_in_at', person.last_sign_in_at, 'created_at', person.created_at,
            'created_by', person.created_by,
            'groups', to_jsonb(ARRAY(SELECT g.name FROM mcp.group_members m
                                       JOIN mcp.user_groups g ON g.id = m.group_id
                                      WHERE m.user_id = person.id ORDER BY g.name))),
        -- What the person may use and why: granted to them, or to a group they are in.
        'datasets', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                         'id', d.id, 'name', d.name, 'status', d.status,
                         'direct', x.direct, 'via_groups', to_jsonb(x.via_groups))
                         ORDER BY d.name), '[]')
                       FROM (SELECT gr.dataset_id,
                                    coalesce(bool_or(gr.user_id = person.id), false) AS direct,
                                    array_remove(array_agg(DISTINCT g.name ORDER BY g.name), NULL) AS via_groups
                               FROM mcp.dataset_grants gr
                               LEFT JOIN mcp.user_groups g ON g.id = gr.group_id
                              WHERE gr.user_id = person.id
                                 OR gr.group_id IN (SELECT m.group_id FROM mcp.group_members m
                                                     WHERE m.user_id = person.id)
                              GROUP BY gr.dataset_id) x
                       JOIN mcp.datasets d ON d.id = x.dataset_id),
        'grantable', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', d.id, 'name', d.name, 'status', d.status)
                                                ORDER BY d.name), '[]')
                        FROM mcp.datasets d
                       WHERE NOT EXISTS (SELECT 1 FROM mcp.dataset_grants gr
                                          WHERE gr.dataset_id = d.id AND gr.user_id = person.id)),
        'groups', (SELECT coalesce(jsonb_agg(g.name ORDER BY g.name), '[]') FROM mcp.user_groups g),
        'oauth', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'client_id', c.client_id, 'client_name', c.client_name,
                      'active_tokens', (SELECT count(*) FROM mcp.oauth_tokens t
                                         WHERE t.client_id = c.id AND t.user_id = person.id
                                           AND t.revoked_at IS NULL AND t.expires_at > now()),
                      'last_used_at', k.last_used_at, 'scopes', to_jsonb(k.scopes))
                      ORDER BY c.client_name, c.client_id), '[]')
                    FROM mcp.api_keys k JOIN mcp.oauth_clients c ON c.id = k.oauth_client_id
                   WHERE k.user_id = person.id AND k.kind = 'oauth'),
        'events', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'event', e.event, 'success', e.success, 'detail', e.detail,
                       'created_at', e.created_at) ORDER BY e.id DESC), '[]')
                     FROM (SELECT * FROM mcp.auth_events e WHERE e.user_id = person.id
                            ORDER BY e.id DESC LIMIT 10) e));
END
$$;
COMMENT ON FUNCTION mcp.ui_person_page(integer) IS
'One person''s dashboard page: the person (never the password hash), the datasets they may use and why (granted to them, or through which groups), the datasets not yet granted to them, all group names, their OAuth connections with active token counts, and their last ten sign-in events. Admins only.';

CREATE FUNCTION mcp.ui_dataset_access(dataset_id integer) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mcp.datasets d WHERE d.id = ui_dataset_access.dataset_id) THEN
        RAISE EXCEPTION 'dataset % does not exist', coalesce(ui_dataset_access.dataset_id::text, 'NULL')
            USING ERRCODE = 'no_data_found';
    END IF;
    RETURN jsonb_build_object(
        'grants', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'kind', CASE WHEN g.user_id IS NOT NULL THEN 'user'
                                    WHEN g.group_id IS NOT NULL THEN 'group' ELSE 'api_key' END,
                       'grantee', coalesce(u.login, gr.name, k.name),
                       'person_id', u.id, 'display_name', u.display_name,
                       'inactive', coalesce(u.disabled, k.revoked_at IS NOT NULL, false),
                       'members', (SELECT count(*) FROM mcp.group_members m WHERE m.group_id = gr.id),
                       'granted_by', g.granted_by, 'granted_at', g.granted_at)
                       ORDER BY (g.user_id IS NULL), (g.group_id IS NULL), coalesce(u.login, gr.name, k.name)), '[]')
                     FROM mcp.dataset_grants g
                     LEFT JOIN mcp.users u ON u.id = g.user_id
                     LEFT JOIN mcp.user_groups gr ON gr.id = g.group_id
                     LEFT JOIN mcp.api_keys k ON k.id = g.api_key_id
                    WHERE g.dataset_id = ui_dataset_access.dataset_id),
        -- The choices of the add form: whoever has no grant of this dataset yet.
        'people', (SELECT coalesce(jsonb_agg(jsonb_build_object('login', u.login, 'display_name', u.display_name,
                                                              'role', u.role, 'disabled', u.disabled)
                                             ORDER BY u.login), '[]')
                     FROM mcp.users u
                    WHERE NOT EXISTS (SELECT 1 FROM mcp.dataset_grants g
                                       WHERE g.dataset_id = ui_dataset_access.dataset_id AND g.user_id = u.id)),
        'groups', (SELECT coalesce(jsonb_agg(gr.name ORDER BY gr.name), '[]')
                     FROM mcp.user_groups gr
                    WHERE NOT EXISTS (SELECT 1 FROM mcp.dataset_grants g
                                       WHERE g.dataset_id = ui_dataset_access.dataset_id AND g.group_id = gr.id)),
        'api_keys', (SELECT coalesce(jsonb_agg(jsonb_build_object('name', k.name, 'role', k.role) ORDER BY k.name), '[]')
                       FROM mcp.api_keys k
                      WHERE k.kind = 'key' AND k.revoked_at IS NULL
                        AND (k.expires_at IS NULL OR k.expires_at > now())
                        AND NOT EXISTS (SELECT 1 FROM mcp.dataset_grants g
                                         WHERE g.dataset_id = ui_dataset_access.dataset_id AND g.api_key_id = k.id)),
        'api_keys_need_grants', (mcp.get_setting('access.api_keys_need_grants'))::boolean);
END
$$;
COMMENT ON FUNCTION mcp.ui_dataset_access(integer) IS
'Who may use a dataset, for its dashboard page: its grants (person, group or API key, by whom and when), the people, groups and live API keys not granted it yet (the choices of the add form), and whether reader API keys need grants (access.api_keys_need_grants). Admins see every dataset without a grant. Admins only.';

CREATE FUNCTION mcp.ui_oauth_clients_page() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'clients', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                        'client_id', c.client_id, 'client_name', c.client_name,
                        'registration', c.registration, 'redirect_uris', to_jsonb(c.redirect_uris),
                        'confidential', c.token_endpoint_auth_method <> 'none',
                        'disabled', c.disabled, 'software', c.software, 'client_uri', c.client_uri,
                        'created_by', c.created_by, 'created_at', c.created_at,
                        'last_used_at', c.last_used_at,
                        'people', (SELECT count(*) FROM mcp.api_keys k
                                    WHERE k.oauth_client_id = c.id AND k.revoked_at IS NULL),
                        'active_tokens', (SELECT count(*) FROM mcp.oauth_tokens t
                                           WHERE t.client_id = c.id AND t.revoked_at IS NULL
                                             AND t.expires_at > now()))
                        ORDER BY c.disabled, c.created_at DESC, c.id DESC), '[]')
                      FROM mcp.oauth_clients c),
        'dynamic_registration', (mcp.get_setting('oauth.dynamic_registration'))::boolean)
$$;
COMMENT ON FUNCTION mcp.ui_oauth_clients_page() IS
'The dashboard''s OAuth clients page: every client (name, how it was registered, redirect URIs, confidential or public, disabled, created, last used, people connected, active tokens; never a secret) and whether dynamic registration is on. Admins only.';

-- The people in the query log, for the log page's person filter: a reader person sees only
-- themselves, as in the log.
CREATE FUNCTION mcp.query_log_people(since interval DEFAULT '30 days')
RETURNS TABLE (login text, display_name text, calls bigint, last_call_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT u.login, u.display_name, x.calls, x.last_call_at
      FROM (SELECT l.user_id, count(*) AS calls, max(l.created_at) AS last_call_at
              FROM mcp.query_logs l
             WHERE l.user_id IS NOT NULL AND l.created_at >= now() - coalesce(since, interval '30 days')
               AND (mcp._log_viewer_user() IS NULL OR l.user_id = mcp._log_viewer_user())
             GROUP BY l.user_id) x
      JOIN mcp.users u ON u.id = x.user_id
     ORDER BY u.login
     LIMIT 500
$$;
COMMENT ON FUNCTION mcp.query_log_people(interval) IS
'The people whose queries are in the query log over the last `since` (default 30 days), with their call counts and last call: the choices of the dashboard''s person filter. A reader person sees only themselves.';

GRANT EXECUTE ON FUNCTION mcp.query_log_people(interval) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.unlock_user(text), mcp.revoke_oauth_client_tokens(text),
    mcp.enable_oauth_client(text), mcp.ui_people_page(), mcp.ui_person_page(integer),
    mcp.ui_dataset_access(integer), mcp.ui_oauth_clients_page()
TO mcp_admin;
