-- The registry's generation (extension/registry_generation.cpp): each committed change to a
-- table that decides a dataset's record, its profile, who may use it or the tool catalog
-- moves a counter in shared memory; each backend keeps what it read for its calls until the
-- counter moves. The triggers fire ALWAYS: also where session_replication_role = replica
-- (logical replication's apply, a restore that sets it).
CREATE FUNCTION mcp._registry_changed() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'mcp_registry_changed';
COMMENT ON FUNCTION mcp._registry_changed() IS
'Internal statement trigger: counts a change to the registry (datasets, profiles, grants, group members, API keys, role mappings, settings, the tool catalog) when its transaction commits, so that every backend reads the dataset records and access checks it keeps again.';

DO $$
DECLARE
    registry_table text;
BEGIN
    FOREACH registry_table IN ARRAY ARRAY['datasets', 'dataset_schemas', 'dataset_grants', 'group_members',
                                          'dataset_role_mappings', 'dataset_role_defaults', 'settings',
                                          'setting_defaults', 'tools'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.%I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed()',
                       registry_table || '_registry_changed', registry_table);
        EXECUTE format('ALTER TABLE mcp.%I ENABLE ALWAYS TRIGGER %I', registry_table, registry_table || '_registry_changed');
    END LOOP;
END
$$;
-- Not last_used_at, which signing in moves once a minute per key.
CREATE TRIGGER api_keys_registry_changed
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF id, role, kind, user_id, revoked_at, expires_at, scopes, oauth_client_id
    ON mcp.api_keys FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
ALTER TABLE mcp.api_keys ENABLE ALWAYS TRIGGER api_keys_registry_changed;
