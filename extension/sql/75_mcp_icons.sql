------------------------------------------------------------------------------------------
-- Icons of tools, prompts and resources (MCP 2025-11-25, SEP-973). Small SVGs inlined as
-- data: URIs, so that a client shows them without fetching anything from anywhere. Tools
-- and prompts carry theirs in a column (an admin adding a tool sets its icon there);
-- resources get theirs by kind. The bridge joins mcp.mcp_icons() to its catalogs.
------------------------------------------------------------------------------------------
CREATE FUNCTION mcp._svg_icon(svg text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    -- encode() breaks base64 into lines; a data: URI must not contain them.
    SELECT jsonb_build_array(jsonb_build_object(
        'src', 'data:image/svg+xml;base64,' || translate(encode(convert_to(svg, 'UTF8'), 'base64'), E'\n', ''),
        'mimeType', 'image/svg+xml', 'sizes', jsonb_build_array('any')))
$$;
COMMENT ON FUNCTION mcp._svg_icon(text) IS 'Internal: an SVG as an MCP icon list [{src: data URI, mimeType, sizes: [any]}]';

CREATE FUNCTION mcp._icon(kind text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT mcp._svg_icon('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#1f5f8b" stroke-width="2">'
        || CASE kind
           WHEN 'rules' THEN '<path d="M4 4h11a3 3 0 0 1 3 3v13H7a3 3 0 0 1-3-3z"/><path d="M8 9h6M8 13h6"/>'
           WHEN 'database' THEN '<ellipse cx="12" cy="5" rx="8" ry="3"/><path d="M4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5"/><path d="M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3"/>'
           WHEN 'table' THEN '<rect x="3" y="4" width="18" height="16" rx="1"/><path d="M3 10h18M3 15h18M9 4v16"/>'
           WHEN 'query' THEN '<path d="M4 6l5 6-5 6"/><path d="M12 18h8"/>'
           WHEN 'chart' THEN '<path d="M4 20V4"/><path d="M4 20h16"/><rect x="7" y="11" width="3" height="6"/><rect x="12" y="7" width="3" height="10"/><rect x="17" y="13" width="2" height="4"/>'
           ELSE '<circle cx="12" cy="12" r="8"/>' END
        || '</svg>')
$$;
COMMENT ON FUNCTION mcp._icon(text) IS 'Internal: the shipped icon of a kind (rules, database, table, query, chart) as an MCP icon list';

ALTER TABLE mcp.tools ADD COLUMN icons jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(icons) = 'array');
COMMENT ON COLUMN mcp.tools.icons IS 'MCP icons [{src, mimeType?, sizes?, theme?}] shown beside the tool (2025-11-25 clients)';
ALTER TABLE mcp.prompts ADD COLUMN icons jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(icons) = 'array');
COMMENT ON COLUMN mcp.prompts.icons IS 'MCP icons [{src, mimeType?, sizes?, theme?}] shown beside the prompt (2025-11-25 clients)';

UPDATE mcp.tools t SET icons = mcp._icon(CASE t.name
        WHEN 'get_global_context' THEN 'rules'
        WHEN 'list_datasets' THEN 'database'
        WHEN 'describe_dataset' THEN 'database'
        WHEN 'get_table_detail' THEN 'table'
        WHEN 'weighted_query' THEN 'chart'
        ELSE 'query' END)
 WHERE t.icons = '[]';
UPDATE mcp.prompts p SET icons = mcp._icon(CASE p.name WHEN 'house_rules' THEN 'rules' ELSE 'chart' END)
 WHERE p.icons = '[]';

CREATE FUNCTION mcp.mcp_icons() RETURNS TABLE (kind text, key text, icons jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'tool', t.name, t.icons FROM mcp.tools t WHERE t.icons <> '[]'
    UNION ALL
    SELECT 'prompt', p.name, p.icons FROM mcp.prompts p WHERE p.icons <> '[]'
    UNION ALL
    SELECT 'resource', r.uri,
           mcp._icon(CASE WHEN r.uri = 'mcp-analytics://context/global' THEN 'rules'
                          WHEN r.uri LIKE '%/schema' THEN 'table' ELSE 'database' END)
      FROM mcp.mcp_resources() r
    UNION ALL
    SELECT 'resource_template', r.uri_template,
           mcp._icon(CASE WHEN r.uri_template LIKE '%/overview' THEN 'database' ELSE 'table' END)
      FROM mcp.mcp_resource_templates() r
$$;
COMMENT ON FUNCTION mcp.mcp_icons() IS
'Icons of what MCP clients list: kind (tool, prompt, resource, resource_template), key (the tool or prompt name, the resource URI or URI template) and icons [{src, mimeType, sizes}].';

REVOKE ALL ON FUNCTION mcp.mcp_icons(), mcp._icon(text), mcp._svg_icon(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mcp.mcp_icons() TO mcp_reader;
