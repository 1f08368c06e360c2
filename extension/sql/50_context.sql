------------------------------------------------------------------------------------------
-- Progressive context for LLM clients: level 0 the house rules, 1 the live datasets, 2 one
-- dataset's tables and columns, 3 one table in full. Each level keeps to its token budget
-- and is cached in mcp.context_cache until something it shows changes.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.context(level integer, dataset_id integer DEFAULT NULL, table_name text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'mcp_context'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mcp.context(integer, integer, text) IS
'Context for an LLM client, as markdown within the level''s token budget (mcp_analytics.context_tokens_level0..3; trimmed with a note, never overflowing): 0 the global rules (from mcp.settings), 1 summaries of the live datasets, 2 a dataset''s tables and columns with descriptions (dataset_id), 3 one table''s full statistics and up to 5 sample rows (dataset_id, table_name). Cached until the data behind it changes.';

CREATE FUNCTION mcp.context_info(level integer, dataset_id integer DEFAULT NULL, table_name text DEFAULT NULL)
RETURNS TABLE (level integer, token_count integer, budget integer, counter text, trimmed boolean, cached boolean)
AS 'MODULE_PATHNAME', 'mcp_context_info'
LANGUAGE C CALLED ON NULL INPUT VOLATILE PARALLEL UNSAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION mcp.context_info(integer, integer, text) IS
'How mcp.context would answer: its token count, the level''s budget, the counter used (o200k or estimate), whether it was trimmed and whether it came from the cache.';

CREATE FUNCTION mcp.count_tokens(content text) RETURNS integer
AS 'MODULE_PATHNAME', 'mcp_count_tokens' LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mcp.count_tokens(text) IS
'Tokens in a text: the exact o200k_base count when mcp_analytics.token_rank_file names the rank file, else an estimate from the same pre-tokenizer (see mcp.token_counter()).';

CREATE FUNCTION mcp.token_counter() RETURNS text
AS 'MODULE_PATHNAME', 'mcp_token_counter' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION mcp.token_counter() IS
'Which token counter is in use: "o200k" (exact, rank file loaded) or "estimate".';

CREATE FUNCTION mcp.clear_context_cache(dataset_id integer DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    removed integer;
BEGIN
    DELETE FROM mcp.context_cache c
     WHERE clear_context_cache.dataset_id IS NULL OR c.dataset_id = clear_context_cache.dataset_id
        OR c.context_level = 1;
    GET DIAGNOSTICS removed = ROW_COUNT;
    RETURN removed;
END
$$;
COMMENT ON FUNCTION mcp.clear_context_cache(integer) IS
'Drops cached context (of one dataset and the dataset list, or all); it is rebuilt on the next mcp.context call. Changes to datasets, profiles, metadata and settings do this by themselves.';

-- Cached context is dropped when anything it shows changes.
CREATE FUNCTION mcp._context_changed() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    changed integer;
BEGIN
    IF TG_TABLE_NAME = 'settings' THEN
        DELETE FROM mcp.context_cache;
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'datasets' THEN
        changed := CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END;
    ELSE
        changed := CASE WHEN TG_OP = 'DELETE' THEN OLD.dataset_id ELSE NEW.dataset_id END;
    END IF;
    DELETE FROM mcp.context_cache c WHERE c.dataset_id = changed OR c.context_level = 1;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._context_changed() IS 'Trigger: drops the cached context that shows the changed dataset, profile, metadata or setting';
CREATE TRIGGER datasets_context AFTER INSERT OR UPDATE OR DELETE ON mcp.datasets
    FOR EACH ROW EXECUTE FUNCTION mcp._context_changed();
CREATE TRIGGER dataset_schemas_context AFTER INSERT OR UPDATE OR DELETE ON mcp.dataset_schemas
    FOR EACH ROW EXECUTE FUNCTION mcp._context_changed();
CREATE TRIGGER llm_metadata_context AFTER INSERT OR UPDATE OR DELETE ON mcp.llm_metadata
    FOR EACH ROW EXECUTE FUNCTION mcp._context_changed();
CREATE TRIGGER settings_context AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.settings
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._context_changed();

GRANT EXECUTE ON FUNCTION mcp.context(integer, integer, text), mcp.context_info(integer, integer, text),
    mcp.count_tokens(text), mcp.token_counter() TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.clear_context_cache(integer) TO mcp_admin;
