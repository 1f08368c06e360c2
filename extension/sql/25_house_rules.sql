------------------------------------------------------------------------------------------
-- House rules that no SQL shape can evade: the per-dataset minimum cell size, and the fence
-- around dataset text handed to a model. (The raw-record cap and the minimum cell are
-- applied inside mcp.execute_query / mcp.execute_multi_query; see README "House rules".)
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.set_min_cell_users(dataset_id integer, min_users integer) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_id integer;
BEGIN
    IF dataset_id IS NULL THEN
        RAISE EXCEPTION 'dataset_id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF min_users IS NOT NULL AND min_users NOT BETWEEN 1 AND 1000000 THEN
        RAISE EXCEPTION 'min_users must be from 1 to 1000000, or NULL for the server setting, not %', min_users
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = '1 turns the check off for this dataset; NULL follows mcp_analytics.min_cell_users.';
    END IF;
    UPDATE mcp.datasets d SET min_cell_users = min_users, updated_at = now()
     WHERE d.id = set_min_cell_users.dataset_id
    RETURNING d.id INTO found_id;
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'dataset % does not exist', dataset_id
            USING ERRCODE = 'no_data_found', HINT = 'mcp.datasets() lists the datasets.';
    END IF;
    RETURN coalesce(min_users, current_setting('mcp_analytics.min_cell_users')::integer);
END
$$;
COMMENT ON FUNCTION mcp.set_min_cell_users(integer, integer) IS
'Sets the fewest distinct panelists an aggregated result row must stand for on one dataset (1 turns the check off; NULL returns to the setting mcp_analytics.min_cell_users) and returns the value now in force. Cached results of the dataset are dropped.';

CREATE FUNCTION mcp.fence_untrusted(content text) RETURNS text
AS 'MODULE_PATHNAME', 'mcp_fence_untrusted'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION mcp.fence_untrusted(text) IS
'Wraps dataset text for a model: a one-line notice, then <untrusted-data id="B"> … </untrusted-data id="B"> around the text, where B is 32 random hex characters drawn for this call and absent from the text, so no value inside can close the fence.';

GRANT EXECUTE ON FUNCTION mcp.fence_untrusted(text) TO mcp_reader;
GRANT EXECUTE ON FUNCTION mcp.set_min_cell_users(integer, integer) TO mcp_admin;
