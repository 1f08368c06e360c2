------------------------------------------------------------------------------------------
-- MCP completion (completion/complete): suggestions for prompt arguments and resource
-- template variables, from the registry. Arguments are known by name wherever they occur:
-- dataset_id (approved datasets, by id or name), dataset_name, table_name (tables of the
-- dataset_id given in context.arguments) and column_name (columns of that table).
------------------------------------------------------------------------------------------
INSERT INTO mcp.prompts (name, title, sort_order, icons, description, arguments, template) VALUES
('explore_column', 'Explore one column', 30, mcp._icon('table'),
 'Find out what one column of a table holds (values, spelling of categories, gaps) before filtering or grouping on it.',
 '[{"name": "dataset_id", "description": "Id of an approved dataset (list_datasets shows them)", "required": true},
   {"name": "table_name", "description": "A table of that dataset", "required": true},
   {"name": "column_name", "description": "A column of that table", "required": true}]',
 E'Explore the column {{column_name}} of table {{table_name}} in dataset {{dataset}}.\n\n1. Call get_table_detail for that table and read the column''s null share, distinct count, range and most common values.\n2. If the common values do not settle it, aggregate with execute_query (GROUP BY the column, weighted counts of distinct users); never list more than five raw rows.\n3. Report the exact labels to filter on, the gaps, and anything that looks wrong.\n\nHouse rules:\n{{rules}}')
ON CONFLICT (name) DO NOTHING;

CREATE FUNCTION mcp._completion_values(argument_name text, typed text, arguments jsonb)
RETURNS text[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    -- Prefix and substring tests on lowercased text: no LIKE, so % and _ typed by the client
    -- are plain characters.
    wanted     text := lower(left(coalesce(typed, ''), 200));
    chosen     integer;  -- the approved dataset context.arguments names
    values_out text[];
BEGIN
    IF coalesce(arguments ->> 'dataset_id', '') ~ '^\s*[0-9]{1,9}\s*$' THEN
        SELECT d.id INTO chosen FROM mcp.datasets d
         WHERE d.id = (arguments ->> 'dataset_id')::integer AND d.status IN ('approved', 'active');
    END IF;
    CASE argument_name
    WHEN 'dataset_id' THEN
        -- An id that starts with what was typed first, then ids of datasets whose name matches.
        SELECT array_agg(d.id::text ORDER BY starts_with(d.id::text, wanted) DESC, d.id) INTO values_out
          FROM mcp.datasets d
         WHERE d.status IN ('approved', 'active')
           AND (starts_with(d.id::text, wanted) OR strpos(lower(d.name), wanted) > 0);
    WHEN 'dataset_name' THEN
        SELECT array_agg(d.name ORDER BY d.name) INTO values_out FROM mcp.datasets d
         WHERE d.status IN ('approved', 'active') AND strpos(lower(d.name), wanted) > 0;
    WHEN 'table_name' THEN
        SELECT array_agg(s.table_name ORDER BY starts_with(lower(s.table_name), wanted) DESC, s.table_name)
          INTO values_out
          FROM mcp.dataset_schemas s
         WHERE s.dataset_id = chosen AND strpos(lower(s.table_name), wanted) > 0;
    WHEN 'column_name' THEN
        SELECT array_agg(c ORDER BY starts_with(lower(c), wanted) DESC, c) INTO values_out
          FROM (SELECT DISTINCT col ->> 'name' AS c
                  FROM mcp.dataset_schemas s, jsonb_array_elements(s.columns) col
                 WHERE s.dataset_id = chosen
                   AND (arguments ->> 'table_name') IN (s.table_name, s.schema_name || '.' || s.table_name)
                   AND jsonb_typeof(col) = 'object') cols
         WHERE c IS NOT NULL AND strpos(lower(c), wanted) > 0;
    ELSE
        values_out := '{}';
    END CASE;
    RETURN coalesce(values_out, '{}');
END
$$;
COMMENT ON FUNCTION mcp._completion_values(text, text, jsonb) IS 'Internal: every completion of one argument (dataset_id, dataset_name, table_name, column_name) for what was typed, best first';

CREATE FUNCTION mcp.complete(ref jsonb, argument jsonb, context jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ref_type   text := CASE WHEN jsonb_typeof(ref) = 'object' THEN ref ->> 'type' END;
    arg_name   text := CASE WHEN jsonb_typeof(argument) = 'object' THEN argument ->> 'name' END;
    typed      text := CASE WHEN jsonb_typeof(argument -> 'value') = 'string' THEN argument ->> 'value' ELSE '' END;
    known      text[];
    found      text[];
BEGIN
    IF arg_name IS NULL OR jsonb_typeof(argument -> 'name') <> 'string' THEN
        RAISE EXCEPTION 'argument must be an object {name, value}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF ref_type = 'ref/prompt' THEN
        SELECT coalesce(array_agg(a ->> 'name'), '{}') INTO known
          FROM mcp.prompts p LEFT JOIN LATERAL jsonb_array_elements(p.arguments) a ON true
         WHERE p.name = ref ->> 'name'
        HAVING count(p.name) > 0;
        IF known IS NULL THEN
            RAISE EXCEPTION 'Unknown prompt: %', coalesce(left(ref ->> 'name', 200), 'NULL')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'prompts/list names the prompts.';
        END IF;
    ELSIF ref_type = 'ref/resource' THEN
        IF NOT EXISTS (SELECT 1 FROM mcp.mcp_resource_templates() t WHERE t.uri_template = ref ->> 'uri') THEN
            RAISE EXCEPTION 'Unknown resource template: %', coalesce(left(ref ->> 'uri', 300), 'NULL')
                USING ERRCODE = 'invalid_parameter_value', HINT = 'resources/templates/list shows the templates.';
        END IF;
        SELECT array_agg(m[1]) INTO known FROM regexp_matches(ref ->> 'uri', '\{([A-Za-z0-9_]+)\}', 'g') m;
    ELSE
        RAISE EXCEPTION 'ref.type must be ref/prompt or ref/resource'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF arg_name = ANY (known) THEN
        found := mcp._completion_values(arg_name, typed,
                     CASE WHEN jsonb_typeof(context -> 'arguments') = 'object' THEN context -> 'arguments' ELSE '{}' END);
    ELSE
        found := '{}';
    END IF;
    -- At most 100 values per answer (the protocol's limit), with the total and whether there are more.
    RETURN jsonb_build_object('completion', jsonb_build_object(
        'values', to_jsonb(coalesce(found[1:100], '{}')),
        'total', cardinality(found),
        'hasMore', cardinality(found) > 100));
END
$$;
COMMENT ON FUNCTION mcp.complete(jsonb, jsonb, jsonb) IS
'completion/complete: suggestions for a prompt argument (ref {type: ref/prompt, name}) or a resource template variable (ref {type: ref/resource, uri: the template}); argument {name, value}; context {arguments: {…}} carries the values already chosen (dataset_id for table_name, table_name for column_name). Returns {completion: {values (at most 100), total, hasMore}}; an unknown prompt, template or ref type is SQLSTATE 22023.';

REVOKE ALL ON FUNCTION mcp.complete(jsonb, jsonb, jsonb), mcp._completion_values(text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mcp.complete(jsonb, jsonb, jsonb) TO mcp_reader;
