------------------------------------------------------------------------------------------
-- MCP resources (what a client may attach as context: the rules, the catalog, each live
-- dataset's overview and schema) and prompts (the house rules as ready-made instructions).
-- URIs: mcp-analytics://context/global, mcp-analytics://datasets,
--       mcp-analytics://datasets/{id}/overview, …/{id}/schema, …/{id}/tables/{table_name}
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._dataset_overview(d mcp.datasets) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH s AS (SELECT mcp._dataset_summary(d) AS j),
         m AS (SELECT * FROM mcp.llm_metadata WHERE dataset_id = d.id),
         t AS (SELECT string_agg(format('- %s%s', st.table_name,
                                        CASE WHEN st.row_count IS NULL THEN ''
                                             ELSE format(' (%s%s rows%s)', CASE WHEN st.row_count_is_estimate THEN '~' ELSE '' END,
                                                         st.row_count, coalesce(', ' || st.granularity, '')) END),
                                 E'\n' ORDER BY st.table_name) AS list
                 FROM mcp.dataset_schemas st WHERE st.dataset_id = d.id)
    SELECT concat_ws(E'\n\n',
        format('# %s (dataset %s)', d.name, d.id),
        nullif(s.j ->> 'description', ''),
        concat_ws(E'\n',
            '- Type: ' || coalesce(d.dataset_type, 'not profiled yet'),
            '- Category: ' || (s.j ->> 'data_category'),
            '- Dates: ' || (s.j ->> 'date_range_start') || ' to ' || (s.j ->> 'date_range_end'),
            CASE WHEN d.has_weight_column
                 THEN format('- Weighted panel: weight column %s%s%s', d.weight_column_name,
                             ' on table ' || d.user_table_name, ', user id ' || d.user_id_column_name)
                 ELSE '- No weight column: figures are unweighted counts' END,
            '- Use cases: ' || nullif((SELECT string_agg(u, ', ') FROM jsonb_array_elements_text(s.j -> 'use_cases') u), '')),
        '## Tables' || E'\n' || t.list,
        (SELECT '## Data quality' || E'\n' || string_agg('- ' || q, E'\n')
           FROM m, unnest(m.quality_observations) q HAVING count(*) > 0),
        format('Query it with execute_query (dataset_id %s); describe_dataset shows its columns.', d.id))
      FROM s, t
$$;
COMMENT ON FUNCTION mcp._dataset_overview(mcp.datasets) IS 'Internal: markdown overview of a dataset for the resource mcp-analytics://datasets/{id}/overview';

CREATE FUNCTION mcp.mcp_resources()
RETURNS TABLE (uri text, name text, title text, description text, mime_type text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM (VALUES
        ('mcp-analytics://context/global', 'global_context', 'House rules',
         'Weighted reporting, the five-raw-rows limit, NCCS merges and output style', 'text/markdown'),
        ('mcp-analytics://datasets', 'datasets', 'Datasets',
         'Summaries of every dataset that can be queried', 'text/markdown')) AS fixed
    UNION ALL
    SELECT * FROM (
        SELECT format('mcp-analytics://datasets/%s/%s', d.id, part),
               format('%s_%s', d.name, part),
               format('%s: %s', d.name, part),
               CASE part WHEN 'overview' THEN 'What the dataset holds, its dates, weighting and tables'
                         ELSE 'Tables and columns with types and descriptions' END,
               'text/markdown'
          FROM mcp.datasets d, unnest(ARRAY['overview', 'schema']) AS part
         WHERE d.status IN ('approved', 'active') AND mcp._may_use_dataset(d.id)
         ORDER BY d.id, part) AS per_dataset
$$;
COMMENT ON FUNCTION mcp.mcp_resources() IS
'The resources MCP clients see (resources/list): the house rules, the dataset catalog, and each approved dataset''s overview and schema, as markdown.';

CREATE FUNCTION mcp.mcp_resource_templates()
RETURNS TABLE (uri_template text, name text, title text, description text, mime_type text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    VALUES
        ('mcp-analytics://datasets/{dataset_id}/overview', 'dataset_overview', 'Dataset overview',
         'What a dataset holds, its dates, weighting and tables', 'text/markdown'),
        ('mcp-analytics://datasets/{dataset_id}/schema', 'dataset_schema', 'Dataset schema',
         'A dataset''s tables and columns', 'text/markdown'),
        ('mcp-analytics://datasets/{dataset_id}/tables/{table_name}', 'table_detail', 'Table detail',
         'One table''s column statistics and up to five sample rows', 'text/markdown')
$$;
COMMENT ON FUNCTION mcp.mcp_resource_templates() IS
'URI templates (RFC 6570) of the resources MCP clients may read for any approved dataset (resources/templates/list).';

CREATE FUNCTION mcp.read_resource(resource_uri text)
RETURNS TABLE (uri text, mime_type text, content text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    wanted  text := resource_uri;
    parts   text[];
    d       mcp.datasets;
    body    text;
BEGIN
    IF wanted = 'mcp-analytics://context/global' THEN
        body := mcp.context(0);
    ELSIF wanted = 'mcp-analytics://datasets' THEN
        body := mcp.fence_untrusted(mcp.context(1));
    ELSE
        parts := regexp_match(wanted, '^mcp-analytics://datasets/([0-9]{1,9})/(overview|schema|tables/(.+))$');
        IF parts IS NOT NULL THEN
            SELECT * INTO d FROM mcp.datasets x
             WHERE x.id = parts[1]::integer AND x.status IN ('approved', 'active')
               AND mcp._may_use_dataset(x.id);
        END IF;
        IF d.id IS NULL OR (parts[3] IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM mcp.dataset_schemas s
                 WHERE s.dataset_id = d.id AND parts[3] IN (s.table_name, s.schema_name || '.' || s.table_name))) THEN
            RAISE EXCEPTION 'Resource not found: %', left(wanted, 300)
                USING ERRCODE = 'undefined_object',
                      HINT = 'resources/list and resources/templates/list show what can be read; datasets must be approved.';
        END IF;
        -- Everything about a dataset comes from it or was written about it: fenced.
        body := mcp.fence_untrusted(CASE WHEN parts[2] = 'overview' THEN mcp._dataset_overview(d)
                                         WHEN parts[2] = 'schema' THEN mcp.context(2, d.id)
                                         ELSE mcp.context(3, d.id, parts[3]) END);
    END IF;
    uri := wanted;
    mime_type := 'text/markdown';
    content := body;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION mcp.read_resource(text) IS
'The contents of one resource (resources/read) as markdown, dataset text inside an untrusted-data fence (mcp.fence_untrusted); an unknown URI, or a dataset that is not approved, is an error with SQLSTATE 42704.';

------------------------------------------------------------------------------------------
-- Prompts
------------------------------------------------------------------------------------------
CREATE TABLE mcp.prompts (
    name         text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]{1,128}$'),
    title        text NOT NULL,
    description  text NOT NULL,
    arguments    jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(arguments) = 'array'),
    template     text NOT NULL,
    sort_order   integer NOT NULL DEFAULT 100
);
COMMENT ON TABLE mcp.prompts IS 'MCP prompts (prompts/list, prompts/get). In template, {{rules}} becomes the current house rules, {{dataset}} the named dataset, {{name}} any other argument.';

CREATE FUNCTION mcp._house_rules() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT string_agg('- ' || (s.value #>> '{}'), E'\n'
                      ORDER BY array_position(ARRAY['rules.weighting', 'rules.raw_rows', 'rules.min_cells', 'rules.low_base', 'rules.output', 'rules.untrusted_data'], s.key), s.key)
           || E'\n- Merge NCCS grades before grouping: '
           || (SELECT string_agg(grades || ' → ' || merged, '; ' ORDER BY merged)
                 FROM (SELECT v AS merged, string_agg(k, ', ' ORDER BY k) AS grades
                         FROM jsonb_each_text(mcp.get_setting('mappings.nccs')) AS m(k, v) GROUP BY v) g) || '.'
      FROM mcp.settings() s WHERE s.key LIKE 'rules.%' AND jsonb_typeof(s.value) = 'string'
$$;
COMMENT ON FUNCTION mcp._house_rules() IS 'Internal: the editable business rules (mcp.settings) as a markdown list';

CREATE FUNCTION mcp.mcp_prompts()
RETURNS TABLE (name text, title text, description text, arguments jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.name, p.title, p.description, p.arguments FROM mcp.prompts p ORDER BY p.sort_order, p.name
$$;
COMMENT ON FUNCTION mcp.mcp_prompts() IS 'The prompts MCP clients see (prompts/list): name, title, description and arguments [{name, description, required}].';

CREATE FUNCTION mcp.get_prompt(name text, arguments jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    p        mcp.prompts;
    args     jsonb := CASE WHEN jsonb_typeof(arguments) = 'object' THEN arguments ELSE '{}' END;
    arg      jsonb;
    body     text;
    d        mcp.datasets;
BEGIN
    SELECT * INTO p FROM mcp.prompts x WHERE x.name = get_prompt.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Unknown prompt: %', coalesce(left(get_prompt.name, 200), 'NULL')
            USING ERRCODE = 'undefined_object', HINT = 'prompts/list names the prompts.';
    END IF;
    FOR arg IN SELECT jsonb_array_elements(p.arguments) LOOP
        IF coalesce((arg ->> 'required')::boolean, false) AND coalesce(args ->> (arg ->> 'name'), '') = '' THEN
            RAISE EXCEPTION 'prompt % needs the argument %', p.name, arg ->> 'name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    body := replace(p.template, '{{rules}}', mcp._house_rules());
    IF args ? 'dataset_id' THEN
        IF (args ->> 'dataset_id') !~ '^\s*[0-9]{1,9}\s*$' THEN
            RAISE EXCEPTION 'dataset_id must be a dataset id (a number), not %', quote_literal(left(args ->> 'dataset_id', 50))
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT * INTO d FROM mcp.datasets x
         WHERE x.id = (args ->> 'dataset_id')::integer AND x.status IN ('approved', 'active')
           AND mcp._may_use_dataset(x.id);
        IF NOT FOUND THEN
            RAISE EXCEPTION 'dataset % is not available to MCP clients', args ->> 'dataset_id'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'Use an id that list_datasets shows.';
        END IF;
        body := replace(body, '{{dataset}}', format('%s (id %s)', d.name, d.id));
    END IF;
    FOR arg IN SELECT jsonb_array_elements(p.arguments) LOOP
        body := replace(body, '{{' || (arg ->> 'name') || '}}', coalesce(args ->> (arg ->> 'name'), ''));
    END LOOP;
    RETURN jsonb_build_object('description', p.description, 'messages', jsonb_build_array(
        jsonb_build_object('role', 'user', 'content', jsonb_build_object('type', 'text', 'text', body))));
END
$$;
COMMENT ON FUNCTION mcp.get_prompt(text, jsonb) IS
'One prompt filled in with its arguments (prompts/get): {description, messages}. An unknown prompt is SQLSTATE 42704; a missing or invalid argument 22023.';

INSERT INTO mcp.prompts (name, title, sort_order, description, arguments, template) VALUES
('house_rules', 'House rules for reporting', 10,
 'The rules every figure from these panel datasets must follow: weighted reporting, at most five raw rows, NCCS merges, small-base caveats.',
 '[]',
 E'You are analysing consumer-panel data through the mcp_analytics tools. Follow these house rules in every answer:\n\n{{rules}}\n\nIn practice: count people by summing the weight of distinct users, never of event rows; aggregate with GROUP BY instead of listing rows (the server returns at most five raw rows); prefer the weighted_query tool for projected figures; state the unweighted base and whether each figure is weighted.'),
('analyze_dataset', 'Answer a question from a dataset', 20,
 'Answer a business question from one approved dataset, working the house way (describe first, weigh users, aggregate, state bases).',
 '[{"name": "dataset_id", "description": "Id of an approved dataset (list_datasets shows them)", "required": true},
   {"name": "question", "description": "The question to answer", "required": true}]',
 E'Answer this question from dataset {{dataset}}:\n\n{{question}}\n\nWork in this order:\n1. Call describe_dataset for the tables, the user table and its weight column; use get_table_detail to learn the exact category labels you filter on.\n2. Compute weighted figures: weighted_query when it fits, otherwise execute_query summing the weight of distinct users.\n3. Aggregate; never list more than five raw rows.\n4. Present a compact markdown table, and say for each figure whether it is weighted and on what unweighted base; caveat small bases.\n\nHouse rules:\n{{rules}}');

GRANT EXECUTE ON FUNCTION mcp.mcp_resources(), mcp.mcp_resource_templates(), mcp.read_resource(text),
    mcp.mcp_prompts(), mcp.get_prompt(text, jsonb) TO mcp_reader;
