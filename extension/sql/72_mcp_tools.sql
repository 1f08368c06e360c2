------------------------------------------------------------------------------------------
-- MCP tools. The catalog is a table and the dispatch one function, so a new tool is an
-- INSERT and a handler function: no bridge change. A handler takes (arguments jsonb,
-- context jsonb) and returns {"text": markdown for the model, "structured": the object that
-- conforms to the tool's outputSchema}; errors it raises become isError results.
------------------------------------------------------------------------------------------
CREATE TABLE mcp.tools (
    name           text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,128}$'),
    title          text NOT NULL,
    description    text NOT NULL,
    input_schema   jsonb NOT NULL CHECK (input_schema ->> 'type' = 'object'),
    output_schema  jsonb CHECK (output_schema IS NULL OR output_schema ->> 'type' = 'object'),
    annotations    jsonb NOT NULL DEFAULT '{"readOnlyHint": true, "destructiveHint": false, "idempotentHint": true, "openWorldHint": false}'
                   CHECK (jsonb_typeof(annotations) = 'object'),
    handler        text NOT NULL CHECK (handler ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$'),
    requires       text[] NOT NULL DEFAULT '{}',
    sort_order     integer NOT NULL DEFAULT 100
);
COMMENT ON TABLE mcp.tools IS 'The MCP tool catalog: what tools/list shows (descriptions for an LLM reader, JSON Schemas, annotations) and the handler function tools/call runs. "{{datasets}}" in a description or schema becomes the list of live datasets.';
COMMENT ON COLUMN mcp.tools.handler IS 'Schema-qualified function (arguments jsonb, context jsonb) RETURNS jsonb {text, structured}';
COMMENT ON COLUMN mcp.tools.requires IS 'Function signatures that must exist for the tool to be offered (parts of the product installed separately)';

-- A changed catalog is a changed tools/list for every client.
CREATE FUNCTION mcp._notify_tools_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('mcp_analytics', '{"event": "tools_changed"}');
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION mcp._notify_tools_change() IS 'Trigger: NOTIFY mcp_analytics with {event: tools_changed} when the tool catalog changes';
CREATE TRIGGER tools_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mcp.tools
    FOR EACH STATEMENT EXECUTE FUNCTION mcp._notify_tools_change();

------------------------------------------------------------------------------------------
-- Helpers
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._live_dataset(dataset_id integer) RETURNS mcp.datasets
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    found_row mcp.datasets;
BEGIN
    SELECT * INTO found_row FROM mcp.datasets d
     WHERE d.id = _live_dataset.dataset_id AND mcp._may_use_dataset(d.id);
    IF NOT FOUND OR found_row.status NOT IN ('approved', 'active') THEN
        RAISE EXCEPTION 'dataset % is not available to MCP clients', _live_dataset.dataset_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = CASE WHEN found_row.id IS NULL THEN 'No dataset has that id.'
                                ELSE format('Its status is %s; only approved datasets can be used.', found_row.status) END,
                  HINT = 'Call list_datasets for the ids you can use.';
    END IF;
    RETURN found_row;
END
$$;
COMMENT ON FUNCTION mcp._live_dataset(integer) IS 'Internal: the dataset row if MCP clients may use it (approved or active), else an error an LLM can act on';

CREATE FUNCTION mcp._live_dataset_list() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(string_agg(format('%s = %s', d.id, d.name), ', ' ORDER BY d.id), 'none yet')
      FROM (SELECT id, name FROM mcp.datasets
             WHERE status IN ('approved', 'active') AND mcp._may_use_dataset(id) ORDER BY id LIMIT 50) d
$$;
COMMENT ON FUNCTION mcp._live_dataset_list() IS 'Internal: "1 = name, 2 = name" of the datasets MCP clients may use, for tool descriptions';

CREATE FUNCTION mcp._markdown_cell(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- Numbers are rounded for reading (2 decimals, 4 below one); structuredContent keeps them whole.
    SELECT CASE WHEN value IS NULL OR jsonb_typeof(value) = 'null' THEN ''
                WHEN jsonb_typeof(value) = 'number'
                THEN trim_scale(round(value::text::numeric, CASE WHEN abs(value::text::numeric) < 1 THEN 4 ELSE 2 END))::text
                ELSE replace(replace(replace(
                         CASE WHEN jsonb_typeof(value) = 'string' THEN value #>> '{}' ELSE value::text END,
                         '\', '\\'), '|', '\|'), E'\n', ' ') END
$$;
COMMENT ON FUNCTION mcp._markdown_cell(jsonb) IS 'Internal: one JSON value as a markdown table cell (pipes escaped, newlines flattened, null empty, numbers rounded)';

CREATE FUNCTION mcp._markdown_rows(rows jsonb, max_rows integer DEFAULT 200, last_columns text[] DEFAULT '{}')
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    keys   text[];
    result text;
BEGIN
    IF rows IS NULL OR jsonb_typeof(rows) <> 'array' OR jsonb_array_length(rows) = 0 THEN
        RETURN '(no rows)';
    END IF;
    IF jsonb_typeof(rows -> 0) <> 'object' THEN
        RETURN rows::text;
    END IF;
    -- Columns of the first object; those named in last_columns go last, in that order.
    SELECT array_agg(k ORDER BY array_position(last_columns, k) NULLS FIRST, ord) INTO keys
      FROM jsonb_each(rows -> 0) WITH ORDINALITY AS e(k, v, ord);
    result := '|' || array_to_string(ARRAY(SELECT mcp._markdown_cell(to_jsonb(k)) FROM unnest(keys) k), '|') || E'|\n'
           || '|' || array_to_string(array_fill('---'::text, ARRAY[array_length(keys, 1)]), '|') || '|';
    SELECT result || coalesce(string_agg(E'\n|' || (
               SELECT string_agg(mcp._markdown_cell(r -> k), '|' ORDER BY i)
                 FROM unnest(keys) WITH ORDINALITY AS u(k, i)) || '|', '' ORDER BY n), '')
      INTO result
      FROM jsonb_array_elements(rows) WITH ORDINALITY AS a(r, n)
     WHERE n <= max_rows;
    IF jsonb_array_length(rows) > max_rows THEN
        result := result || format(E'\n(%s more rows not shown)', jsonb_array_length(rows) - max_rows);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION mcp._markdown_rows(jsonb, integer, text[]) IS 'Internal: a JSON array of objects as a compact markdown table (columns from the first object, last_columns at the end)';

-- The checks a JSON Schema validator would make, for the keywords our tools use; the answer
-- is a sentence for the model, so that it fixes its call (SEP-1303), or NULL when all is well.
-- In C++ (tool_arguments.cpp): every tools/call asks, and as recursive PL/pgSQL it cost more
-- than the rest of the dispatch.
CREATE FUNCTION mcp._argument_problem(schema jsonb, value jsonb, path text DEFAULT 'arguments')
RETURNS text
LANGUAGE c IMMUTABLE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_argument_problem';
COMMENT ON FUNCTION mcp._argument_problem(jsonb, jsonb, text) IS 'Internal: the first way value breaks a (simple) JSON Schema, as a sentence, or NULL';

-- C++ (tool_available.cpp): every tools/call asks, and each backend keeps the answers until
-- functions are created or dropped.
CREATE FUNCTION mcp._tool_available(tool mcp.tools) RETURNS boolean
LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_tool_available';
COMMENT ON FUNCTION mcp._tool_available(mcp.tools) IS 'Internal: whether a tool''s handler and the functions it requires are installed';

CREATE FUNCTION mcp._tool_error(message text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object('content', jsonb_build_array(jsonb_build_object('type', 'text', 'text', message)),
                              'isError', true)
$$;
COMMENT ON FUNCTION mcp._tool_error(text) IS 'Internal: an MCP tool result with isError set and the message as its text';

------------------------------------------------------------------------------------------
-- Catalog and dispatch
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp.mcp_tools()
RETURNS TABLE (name text, title text, description text, input_schema jsonb, output_schema jsonb,
               annotations jsonb)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    live text := mcp._live_dataset_list();
BEGIN
    RETURN QUERY
    SELECT t.name, t.title, replace(t.description, '{{datasets}}', live),
           -- Inside a JSON string: escaped as JSON, without the quotes to_json adds.
           replace(t.input_schema::text, '{{datasets}}', substr(to_json(live)::text, 2, length(to_json(live)::text) - 2))::jsonb,
           t.output_schema,
           t.annotations || jsonb_build_object('title', t.title)
      FROM mcp.tools t
     WHERE mcp._tool_available(t)
     ORDER BY t.sort_order, t.name;
END
$$;
COMMENT ON FUNCTION mcp.mcp_tools() IS
'The tools MCP clients see (tools/list): name, title, description for an LLM reader, input and output JSON Schemas and annotations. Only tools whose functions are installed are listed; descriptions name the datasets that are live now.';

-- C++ (tool_call.cpp): every tools/call runs through it.
CREATE FUNCTION mcp.call_tool(name text, arguments jsonb DEFAULT '{}', context jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mcp_call_tool';
COMMENT ON FUNCTION mcp.call_tool(text, jsonb, jsonb) IS
'Runs an MCP tool (tools/call) and returns its result: {content: [{type: text, text}], structuredContent, isError}. Bad arguments and failures are isError results that tell the model what to fix; an unknown tool is an error (SQLSTATE 42883). context {client_name, client_version, user_agent, session_id, api_key_id} reaches the query log, and is also readable as the transaction''s setting mcp.request_context.';

------------------------------------------------------------------------------------------
-- Handlers
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._tool_get_global_context(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    text_out text := mcp.context(0);
BEGIN
    RETURN jsonb_build_object('text', text_out, 'structured', jsonb_build_object('context', text_out));
END
$$;
COMMENT ON FUNCTION mcp._tool_get_global_context(jsonb, jsonb) IS 'Tool get_global_context: the house rules (context level 0)';

CREATE FUNCTION mcp._dataset_summary(d mcp.datasets) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'id', d.id, 'name', d.name,
        'description', coalesce(m.description, d.description),
        'status', d.status, 'dataset_type', d.dataset_type,
        'data_category', coalesce(d.data_category, m.data_category),
        'date_range_start', coalesce(d.date_range_start, m.date_range_start),
        'date_range_end', coalesce(d.date_range_end, m.date_range_end),
        'use_cases', to_jsonb(CASE WHEN cardinality(d.use_cases) > 0 THEN d.use_cases
                                   ELSE coalesce(m.recommended_use_cases, '{}') END),
        'has_weight_column', d.has_weight_column, 'weight_column_name', d.weight_column_name,
        'user_id_column_name', d.user_id_column_name, 'user_table_name', d.user_table_name,
        'estimated_row_count', d.estimated_row_count)
      FROM (SELECT 1) one LEFT JOIN mcp.llm_metadata m ON m.dataset_id = d.id
$$;
COMMENT ON FUNCTION mcp._dataset_summary(mcp.datasets) IS 'Internal: what MCP clients are told about a dataset (reviewed metadata first, never the connection)';

CREATE FUNCTION mcp._tool_list_datasets(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    listed jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(mcp._dataset_summary(d) ORDER BY d.id), '[]') INTO listed
      FROM mcp.datasets d WHERE d.status IN ('approved', 'active') AND mcp._may_use_dataset(d.id);
    RETURN jsonb_build_object('text', mcp.fence_untrusted(mcp.context(1)), 'structured', jsonb_build_object('datasets', listed));
END
$$;
COMMENT ON FUNCTION mcp._tool_list_datasets(jsonb, jsonb) IS 'Tool list_datasets: live datasets (context level 1)';

CREATE FUNCTION mcp._tool_describe_dataset(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d       mcp.datasets := mcp._live_dataset((arguments ->> 'dataset_id')::integer);
    tables  jsonb;
BEGIN
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'schema_name', s.schema_name, 'table_name', s.table_name, 'table_kind', s.table_kind,
               'granularity', s.granularity, 'row_count', s.row_count,
               'row_count_is_estimate', s.row_count_is_estimate, 'columns', s.columns)
               ORDER BY s.schema_name, s.table_name), '[]')
      INTO tables
      FROM mcp.dataset_schemas s WHERE s.dataset_id = d.id;
    RETURN jsonb_build_object('text', mcp.fence_untrusted(mcp.context(2, d.id)),
        'structured', jsonb_build_object('dataset', mcp._dataset_summary(d), 'tables', tables));
END
$$;
COMMENT ON FUNCTION mcp._tool_describe_dataset(jsonb, jsonb) IS 'Tool describe_dataset: a dataset''s tables and columns (context level 2)';

CREATE FUNCTION mcp._tool_get_table_detail(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    d          mcp.datasets := mcp._live_dataset((arguments ->> 'dataset_id')::integer);
    table_name text := arguments ->> 'table_name';
    text_out   text := mcp.fence_untrusted(mcp.context(3, d.id, table_name));
BEGIN
    RETURN jsonb_build_object('text', text_out, 'structured', jsonb_build_object(
        'dataset_id', d.id, 'table_name', table_name, 'context', text_out));
END
$$;
COMMENT ON FUNCTION mcp._tool_get_table_detail(jsonb, jsonb) IS 'Tool get_table_detail: one table''s statistics and samples (context level 3)';

-- The text the model reads: the table inside the untrusted-data fence, then what it must
-- know about it. PL/pgSQL for its plan cache, as _tool_available.
-- C++ (tool_call.cpp), shared with mcp.call_tool's execute_query.
CREATE FUNCTION mcp._result_text(result jsonb, format text) RETURNS text
LANGUAGE c VOLATILE PARALLEL SAFE AS 'MODULE_PATHNAME', 'mcp_result_text';
COMMENT ON FUNCTION mcp._result_text(jsonb, text) IS 'Internal: an execute_query result as text for the model (the table fenced as untrusted data, warnings, row count and time)';

CREATE FUNCTION mcp._tool_execute_query(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    format text := coalesce(arguments ->> 'format', 'markdown');
    result jsonb;
BEGIN
    result := mcp.execute_query((arguments ->> 'dataset_id')::integer, arguments ->> 'sql',
                                coalesce((arguments ->> 'max_rows')::integer, 1000), format, context);
    RETURN jsonb_build_object('text', mcp._result_text(result, format), 'structured', result);
END
$$;
COMMENT ON FUNCTION mcp._tool_execute_query(jsonb, jsonb) IS 'Tool execute_query: one read-only query through mcp.execute_query';

CREATE FUNCTION mcp._tool_execute_multi_query(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result jsonb;
    parts  text;
BEGIN
    result := mcp.execute_multi_query(arguments -> 'queries',
                                      coalesce((arguments ->> 'max_concurrency')::integer, 8), context);
    SELECT string_agg(format(E'## %s (dataset %s)\n\n%s',
                             coalesce(r ->> 'label', 'query ' || n), r ->> 'dataset_id',
                             CASE WHEN coalesce((r ->> 'ok')::boolean, true)
                                  THEN mcp._result_text(r, coalesce(q ->> 'format', 'markdown'))
                                  ELSE 'Error: ' || coalesce(r ->> 'error', 'failed') END),
                      E'\n\n' ORDER BY n)
      INTO parts
      FROM jsonb_array_elements(result -> 'results') WITH ORDINALITY AS a(r, n)
      LEFT JOIN LATERAL (SELECT arguments -> 'queries' -> (n::integer - 1) AS q) qq ON true;
    RETURN jsonb_build_object('text', coalesce(parts, '(no results)'), 'structured', result);
END
$$;
COMMENT ON FUNCTION mcp._tool_execute_multi_query(jsonb, jsonb) IS 'Tool execute_multi_query: up to 30 queries in parallel through mcp.execute_multi_query';

CREATE FUNCTION mcp._tool_weighted_query(arguments jsonb, context jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    result jsonb := mcp.weighted_query((arguments ->> 'dataset_id')::integer, arguments -> 'spec');
BEGIN
    RETURN jsonb_build_object('text', concat_ws(E'\n\n',
        mcp.fence_untrusted(mcp._markdown_rows(result -> 'rows', 200,
                           ARRAY['value', 'se', 'ci_low', 'ci_high', 'base', 'n_eff', 'low_base'])),
        (SELECT string_agg('Warning: ' || w, E'\n')
           FROM jsonb_array_elements_text(coalesce(result -> 'warnings', '[]')) w)),
        'structured', result);
END
$$;
COMMENT ON FUNCTION mcp._tool_weighted_query(jsonb, jsonb) IS 'Tool weighted_query: survey-correct weighted estimates through mcp.weighted_query';

------------------------------------------------------------------------------------------
-- The shipped tools
------------------------------------------------------------------------------------------
INSERT INTO mcp.tools (name, title, sort_order, handler, requires, description, input_schema, output_schema) VALUES
('get_global_context', 'House rules', 10, 'mcp._tool_get_global_context', '{"mcp.context(integer,integer,text)"}',
 'Read the house rules for analysing this panel data before you answer: report weighted figures (weigh users, not events), show at most five raw rows, merge NCCS grades as configured, caveat small bases, and the expected output style. Read it once at the start of an analysis.',
 $j${"type": "object", "properties": {}, "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}$j$),
('list_datasets', 'List datasets', 20, 'mcp._tool_list_datasets', '{"mcp.context(integer,integer,text)"}',
 'List the datasets you can query: id, name, what each holds, date range, whether its users carry a panel weight, and what it is good for. Start here, then call describe_dataset on the dataset that fits the question. Only reviewed and approved datasets are listed.',
 $j${"type": "object", "properties": {}, "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"datasets": {"type": "array", "items": {"type": "object"}}}, "required": ["datasets"]}$j$),
('describe_dataset', 'Describe a dataset', 30, 'mcp._tool_describe_dataset', '{"mcp.context(integer,integer,text)"}',
 'Show one dataset''s tables and columns: types, descriptions, row counts, which table holds the users and their weight, and whether a table is event-level or pre-aggregated. Call it before writing SQL for that dataset. Live datasets: {{datasets}}.',
 $j${"type": "object", "properties": {"dataset_id": {"type": "integer", "minimum": 1, "description": "Id of the dataset, from list_datasets (live now: {{datasets}})"}}, "required": ["dataset_id"], "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"dataset": {"type": "object"}, "tables": {"type": "array", "items": {"type": "object"}}}, "required": ["dataset", "tables"]}$j$),
('get_table_detail', 'Table detail', 40, 'mcp._tool_get_table_detail', '{"mcp.context(integer,integer,text)"}',
 'Show one table in depth: per-column null share, distinct counts, ranges and most common values, and at most five sample rows. Use it to learn value formats and category labels (for example the exact spelling of an app or a state) before filtering on them.',
 $j${"type": "object", "properties": {"dataset_id": {"type": "integer", "minimum": 1, "description": "Id of the dataset, from list_datasets"}, "table_name": {"type": "string", "minLength": 1, "maxLength": 200, "description": "Table name as describe_dataset shows it"}}, "required": ["dataset_id", "table_name"], "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"dataset_id": {"type": "integer"}, "table_name": {"type": "string"}, "context": {"type": "string"}}, "required": ["dataset_id", "table_name", "context"]}$j$),
('execute_query', 'Run a SQL query', 50, 'mcp._tool_execute_query', '{"mcp.execute_query(integer,text,integer,text,jsonb)"}',
 'Run one read-only SQL query (PostgreSQL dialect) on a dataset and get the result as a compact markdown table (or csv or json). Only a single SELECT, WITH ... SELECT, VALUES or TABLE statement is accepted; anything that writes, locks or calls administrative functions is refused with the reason. Report weighted figures: sum the weight of distinct users (join events to the user table and count each user once), not of event rows. A query that does not aggregate returns at most five rows, so aggregate with GROUP BY instead of listing rows. Results stop at max_rows and say so. Live datasets: {{datasets}}.',
 $j${"type": "object", "properties": {"dataset_id": {"type": "integer", "minimum": 1, "description": "Id of the dataset to query (live now: {{datasets}})"}, "sql": {"type": "string", "minLength": 1, "maxLength": 100000, "description": "One read-only SQL statement"}, "max_rows": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000, "description": "Most rows to return"}, "format": {"type": "string", "enum": ["markdown", "csv", "json"], "default": "markdown", "description": "markdown (default) for reading, csv for compact wide results, json for rows as objects"}}, "required": ["dataset_id", "sql"], "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"columns": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "type": {"type": "string"}}}}, "text": {"type": "string"}, "rows": {"type": "array"}, "row_count": {"type": "integer"}, "truncated": {"type": "boolean"}, "execution_time_ms": {"type": "number"}, "warnings": {"type": "array", "items": {"type": "string"}}, "cached": {"type": "boolean"}}, "required": ["columns", "row_count"]}$j$),
('execute_multi_query', 'Run several queries', 60, 'mcp._tool_execute_multi_query', '{"mcp.execute_multi_query(jsonb,integer,jsonb)"}',
 'Run up to 30 read-only queries in parallel, on one dataset or several, and get every result under its label. One failing query does not fail the others: it carries its own error. Use it to compare datasets or to fetch several breakdowns in one step; the same rules as execute_query apply to each query.',
 $j${"type": "object", "properties": {"queries": {"type": "array", "minItems": 1, "maxItems": 30, "items": {"type": "object", "properties": {"dataset_id": {"type": "integer", "minimum": 1}, "sql": {"type": "string", "minLength": 1, "maxLength": 100000}, "label": {"type": "string", "maxLength": 200, "description": "Name of this result in the answer"}, "max_rows": {"type": "integer", "minimum": 1, "maximum": 10000}}, "required": ["dataset_id", "sql"], "additionalProperties": false}, "description": "The queries, each {dataset_id, sql, label?, max_rows?}"}, "max_concurrency": {"type": "integer", "minimum": 1, "maximum": 30, "default": 8, "description": "How many run at the same time"}}, "required": ["queries"], "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"results": {"type": "array", "items": {"type": "object"}}, "execution_time_ms": {"type": "number"}}, "required": ["results"]}$j$),
('weighted_query', 'Weighted estimate', 70, 'mcp._tool_weighted_query', '{"mcp.weighted_query(integer,jsonb)"}',
 'Compute survey-correct weighted figures without writing SQL: reach, reach_pct, share, mean, avg_frequency, projected_events or a quantile, per group, each with its standard error, 95% interval, unweighted base, effective base and a low-base flag. Prefer it to execute_query for any projected or weighted figure. Example 1, weighted reach of purchasers by gender: {"measure": "reach", "user_table": "panelists", "event_table": "events", "event_filter": "event_type = ''purchase''", "group_by": ["gender"]}. Example 2, average spend per adult user by merged NCCS grade: {"measure": "mean", "metric": "sum(spend_inr)", "user_filter": "age >= 18", "group_by": ["nccs"]}.',
 $j${"type": "object", "properties": {"dataset_id": {"type": "integer", "minimum": 1, "description": "Id of the dataset (live now: {{datasets}})"}, "spec": {"type": "object", "description": "What to estimate", "properties": {"measure": {"type": "string", "enum": ["reach", "reach_pct", "avg_frequency", "mean", "share", "projected_events", "quantile"]}, "metric": {"type": "string", "description": "Per-user expression for mean and quantile, e.g. sum(spend_inr)"}, "condition": {"type": "string", "description": "Boolean per-user condition for share"}, "q": {"type": "number", "minimum": 0, "maximum": 1, "description": "Quantile, e.g. 0.5"}, "user_table": {"type": "string"}, "event_table": {"type": "string"}, "event_filter": {"type": "string", "description": "SQL condition on event rows"}, "user_filter": {"type": "string", "description": "SQL condition on user rows"}, "group_by": {"type": "array", "items": {"type": "string"}, "description": "User or event columns to group by"}, "universe": {"type": "string", "description": "Boolean column of the user table that defines the population"}}, "required": ["measure"]}}, "required": ["dataset_id", "spec"], "additionalProperties": false}$j$,
 $j${"type": "object", "properties": {"rows": {"type": "array", "items": {"type": "object"}}, "sql": {"type": "string"}, "warnings": {"type": "array"}}, "required": ["rows"]}$j$);

GRANT EXECUTE ON FUNCTION mcp.mcp_tools(), mcp.call_tool(text, jsonb, jsonb) TO mcp_reader;
