-- The registry's generation (extension/registry_generation.cpp): each committed change to a
-- table that decides a dataset's record, its profile, who may use it or the tool catalog
-- moves a counter in shared memory; each backend keeps what it read for its calls until the
-- counter moves.
CREATE FUNCTION mcp._registry_changed() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'mcp_registry_changed';
COMMENT ON FUNCTION mcp._registry_changed() IS
'Internal statement trigger: counts a change to the registry (datasets, profiles, grants, group members, API keys, role mappings, settings, the tool catalog) when its transaction commits, so that every backend reads the dataset records and access checks it keeps again.';

CREATE TRIGGER datasets_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.datasets
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER dataset_schemas_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.dataset_schemas
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER dataset_grants_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.dataset_grants
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER group_members_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.group_members
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
-- Not last_used_at, which signing in moves once a minute per key.
CREATE TRIGGER api_keys_registry_changed
    AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF id, role, kind, user_id, revoked_at, expires_at, scopes, oauth_client_id
    ON mcp.api_keys FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER dataset_role_mappings_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.dataset_role_mappings
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER dataset_role_defaults_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.dataset_role_defaults
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER settings_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.settings
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER setting_defaults_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.setting_defaults
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
CREATE TRIGGER tools_registry_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.tools
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._registry_changed();
