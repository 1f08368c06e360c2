-- A key's role decides what its level-1 context and catalogs show: a change of it drops
-- the cached context and tells the bridges, as a grant does
-- (extension/sql/02_people_and_grants.sql).
COMMENT ON FUNCTION mcp._notify_grants_change() IS 'Trigger: drops cached context texts and tells bridges the catalogs changed when grants, group memberships or a key''s role change';
CREATE TRIGGER api_keys_context AFTER UPDATE OF role, kind, user_id, revoked_at ON mcp.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._notify_grants_change();
