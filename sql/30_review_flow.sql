-- The registration flow as a DBA sees it: register, profile, metadata, review, approve, and
-- the context an LLM client then gets. Jobs run in this session (CALL mcp.run_pending_jobs()
-- inside a transaction block), so the output does not depend on the background workers.
\set VERBOSITY default
\set SHOW_CONTEXT never
\getenv demo_conninfo MCP_DEMO_CONNINFO

-- Runs a statement and reports its error as the caller sees it (the dataset id shown as ID).
CREATE FUNCTION pg_temp.try(statement text, id integer) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text; message text; detail text; hint text;
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                            detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN replace(replace(format('%s: %s | %s | %s', state, message, detail, hint),
                           'dataset ' || id, 'dataset ID'), '(' || id || ')', '(ID)');
END $$;

BEGIN;
SELECT mcp.register_dataset('review_flow', :'demo_conninfo') AS id \gset
-- The demo database also holds other tests' helper schemas: profile schema public only.
SELECT mcp.reprofile_dataset(:id, ARRAY['public']) > 0 AS queued;
SELECT kind, status, attempts, payload FROM mcp.jobs WHERE dataset_id = :id;
SELECT pg_temp.try(format('SELECT mcp.approve_dataset(%s)', :id), :id) AS approve_while_profiling;
CALL mcp.run_pending_jobs();
SELECT kind, status, attempts, progress ->> 'step' AS step FROM mcp.jobs_status(:id) ORDER BY id;
SELECT status, dataset_type, weight_column_name, user_table_name, user_id_column_name,
       date_range_start, date_range_end
  FROM mcp.dataset(:id);
SELECT schema_name, table_name, granularity, row_count, row_count_is_estimate, stats ->> 'method' AS method
  FROM mcp.dataset_profile(:id) WHERE schema_name = 'public';
SELECT m ->> 'written_by' AS written_by, m ->> 'data_category' AS category,
       jsonb_pretty(m -> 'recommended_use_cases') AS use_cases, jsonb_pretty(m -> 'quality_observations') AS quality
  FROM mcp.get_metadata(:id) AS m;
SELECT mcp.update_metadata(:id, '{"description": "Demo panel: panelists, events and daily usage."}') -> 'diff' ? 'description' AS edit_in_diff;
SELECT pg_temp.try(format($$SELECT mcp.update_metadata(%s, '{"owner": "me"}')$$, :id), :id) AS unknown_field;
SELECT status, approved_by FROM mcp.approve_dataset(:id, 'regress reviewer');
SELECT pg_temp.try(format('SELECT mcp.approve_dataset(%s)', :id), :id) AS approve_twice;
SELECT mcp.context(0);
SELECT pg_temp.try(format($$SELECT mcp.context(3, %s, 'nope')$$, :id), :id) AS unknown_table;
SELECT pg_temp.try('SELECT mcp.context(9)', :id) AS bad_level;
ROLLBACK;
