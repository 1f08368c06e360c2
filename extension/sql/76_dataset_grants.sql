------------------------------------------------------------------------------------------
-- Dataset grants: to a person, a group or an API key (the table and the check every path
-- applies, mcp._may_use_dataset, are in part 02).
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._grantee(to_user text, to_group text, to_api_key text,
                             OUT user_id integer, OUT group_id integer, OUT api_key_id integer)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF num_nonnulls(to_user, to_group, to_api_key) <> 1 THEN
        RAISE EXCEPTION 'name exactly one grantee: to_user, to_group or to_api_key'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF to_user IS NOT NULL THEN
        user_id := (mcp._user_by_login(to_user)).id;
    ELSIF to_group IS NOT NULL THEN
        SELECT g.id INTO group_id FROM mcp.user_groups g WHERE g.name = to_group;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no group named %', quote_literal(to_group)
                USING ERRCODE = 'no_data_found', HINT = 'mcp.add_group_member makes a group with its first member.';
        END IF;
    ELSE
        SELECT k.id INTO api_key_id FROM mcp.api_keys k WHERE k.name = to_api_key AND k.kind = 'key';
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no API key named %', quote_literal(to_api_key)
                USING ERRCODE = 'no_data_found', HINT = 'List the keys with SELECT * FROM mcp.api_keys().';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION mcp._grantee(text, text, text) IS 'Internal: the one person, group or API key a grant names';

CREATE FUNCTION mcp.grant_dataset(dataset_id integer, to_user text DEFAULT NULL,
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

CREATE FUNCTION mcp.revoke_dataset(dataset_id integer, from_user text DEFAULT NULL,
                                   from_group text DEFAULT NULL, from_api_key text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    who record := mcp._grantee(from_user, from_group, from_api_key);
BEGIN
    DELETE FROM mcp.dataset_grants g
     WHERE g.dataset_id = revoke_dataset.dataset_id
       AND (g.user_id = who.user_id OR g.group_id = who.group_id OR g.api_key_id = who.api_key_id);
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION mcp.revoke_dataset(integer, text, text, text) IS
'Takes back a grant of mcp.grant_dataset (from_user, from_group or from_api_key); false when there was none. Effective at once on every bridge.';

CREATE FUNCTION mcp.dataset_grants(dataset_id integer DEFAULT NULL)
RETURNS TABLE (dataset_id integer, dataset_name text, grantee_kind text, grantee text,
               granted_by text, granted_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT g.dataset_id, d.name,
           CASE WHEN g.user_id IS NOT NULL THEN 'user' WHEN g.group_id IS NOT NULL THEN 'group' ELSE 'api_key' END,
           coalesce(u.login, gr.name, k.name), g.granted_by, g.granted_at
      FROM mcp.dataset_grants g
      JOIN mcp.datasets d ON d.id = g.dataset_id
      LEFT JOIN mcp.users u ON u.id = g.user_id
      LEFT JOIN mcp.user_groups gr ON gr.id = g.group_id
      LEFT JOIN mcp.api_keys k ON k.id = g.api_key_id
     WHERE dataset_grants.dataset_id IS NULL OR g.dataset_id = dataset_grants.dataset_id
     ORDER BY g.dataset_id, 3, 4
$$;
COMMENT ON FUNCTION mcp.dataset_grants(integer) IS 'Lists the grants (of one dataset, or all): dataset, kind of grantee (user, group, api_key) and its name.';

GRANT EXECUTE ON FUNCTION mcp.grant_dataset(integer, text, text, text),
    mcp.revoke_dataset(integer, text, text, text), mcp.dataset_grants(integer)
TO mcp_admin;
