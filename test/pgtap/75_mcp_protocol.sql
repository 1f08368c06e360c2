-- The MCP protocol utilities in the extension: icons on what clients list, completion from
-- the registry, and resource subscriptions of sessions.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(36);

-- Icons -------------------------------------------------------------------------------------
SELECT is((SELECT count(*) FROM mcp.tools WHERE icons = '[]'), 0::bigint, 'every shipped tool has an icon');
SELECT is((SELECT count(*) FROM mcp.prompts WHERE icons = '[]'), 0::bigint, 'every shipped prompt has an icon');
SELECT ok((SELECT bool_and(i.icons -> 0 ->> 'src' LIKE 'data:image/svg+xml;base64,%'
                           AND strpos(i.icons -> 0 ->> 'src', E'\n') = 0
                           AND i.icons -> 0 ->> 'mimeType' = 'image/svg+xml')
             FROM mcp.mcp_icons() i),
          'icons are single-line SVG data URIs');
SELECT ok((SELECT bool_and(convert_from(decode(substr(i.icons -> 0 ->> 'src', 27), 'base64'), 'UTF8') LIKE '<svg %</svg>')
             FROM mcp.mcp_icons() i),
          'and decode to SVG documents');
SELECT set_eq($$SELECT DISTINCT kind FROM mcp.mcp_icons()$$, ARRAY['tool', 'prompt', 'resource', 'resource_template'],
              'tools, prompts, resources and templates all get icons');
SELECT ok((SELECT count(*) FROM mcp.mcp_icons() WHERE kind = 'resource_template')
          = (SELECT count(*) FROM mcp.mcp_resource_templates()), 'one icon per resource template');
SELECT throws_ok($$UPDATE mcp.tools SET icons = '{"src": "x"}' WHERE name = 'execute_query'$$, '23514', NULL,
                 'icons must be a list');

-- A live dataset with two tables, and one with many ------------------------------------------
SELECT mcp.register_dataset('tap_completion_shop', :'demo_conninfo') AS ds \gset
SELECT mcp.register_dataset('tap_completion_wide', :'demo_conninfo') AS wide \gset
SELECT mcp.register_dataset('tap_completion_draft', :'demo_conninfo') AS draft \gset
INSERT INTO mcp.dataset_schemas (dataset_id, table_name, columns) VALUES
    (:ds, 'panelists', '[{"name": "user_id"}, {"name": "gender"}, {"name": "weight"}]'),
    (:ds, 'purchases', '[{"name": "user_id"}, {"name": "amount"}, {"name": "100%_flag"}]');
INSERT INTO mcp.dataset_schemas (dataset_id, table_name)
SELECT :wide, format('t%s', lpad(n::text, 3, '0')) FROM generate_series(1, 120) n;
SELECT set_config('tap.ds', :'ds' || ',' || :'wide', true) \gset
DO $$
DECLARE
    d text;
    s text;
BEGIN
    FOREACH d IN ARRAY string_to_array(current_setting('tap.ds'), ',') LOOP
        FOREACH s IN ARRAY ARRAY['profiling', 'metadata_pending', 'approved'] LOOP
            PERFORM mcp.set_dataset_status(d::integer, s);
        END LOOP;
    END LOOP;
END $$;

-- Completion ---------------------------------------------------------------------------------
SELECT ok(mcp.complete('{"type": "ref/prompt", "name": "analyze_dataset"}', jsonb_build_object('name', 'dataset_id', 'value', :'ds'))
              -> 'completion' -> 'values' ? :'ds',
          'a dataset id completes from its first digits');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "analyze_dataset"}', '{"name": "dataset_id", "value": "COMPLETION_SH"}')
              -> 'completion' -> 'values', jsonb_build_array(:'ds'),
          'and from part of the dataset name, case-insensitively');
SELECT ok(NOT (mcp.complete('{"type": "ref/prompt", "name": "analyze_dataset"}', '{"name": "dataset_id", "value": "tap_completion"}')
              -> 'completion' -> 'values' ? :'draft'),
          'datasets that are not approved are never suggested');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "explore_column"}', '{"name": "table_name", "value": "p"}',
                       jsonb_build_object('arguments', jsonb_build_object('dataset_id', :'ds'))) -> 'completion',
          '{"values": ["panelists", "purchases"], "total": 2, "hasMore": false}',
          'table names of the dataset chosen in context.arguments');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "explore_column"}', '{"name": "table_name", "value": ""}') -> 'completion' -> 'total',
          '0', 'no table names without a dataset');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "explore_column"}', '{"name": "column_name", "value": "user"}',
                       jsonb_build_object('arguments', jsonb_build_object('dataset_id', :'ds', 'table_name', 'purchases'))) -> 'completion' -> 'values',
          '["user_id"]', 'column names of the table chosen in context');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "explore_column"}', '{"name": "column_name", "value": "%"}',
                       jsonb_build_object('arguments', jsonb_build_object('dataset_id', :'ds', 'table_name', 'purchases'))) -> 'completion' -> 'values',
          '["100%_flag"]', 'what the client types is text, not a LIKE pattern');
SELECT is(mcp.complete('{"type": "ref/resource", "uri": "mcp-analytics://datasets/{dataset_id}/tables/{table_name}"}',
                       '{"name": "table_name", "value": "pan"}',
                       jsonb_build_object('arguments', jsonb_build_object('dataset_id', :'ds'))) -> 'completion' -> 'values',
          '["panelists"]', 'resource template variables complete too');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "explore_column"}', '{"name": "table_name", "value": "t"}',
                       jsonb_build_object('arguments', jsonb_build_object('dataset_id', :'wide'))) -> 'completion',
          jsonb_build_object('values', (SELECT jsonb_agg(format('t%s', lpad(n::text, 3, '0')) ORDER BY n) FROM generate_series(1, 100) n),
                             'total', 120, 'hasMore', true),
          'at most 100 values, with the total and hasMore');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "analyze_dataset"}', '{"name": "question", "value": "who"}') -> 'completion',
          '{"values": [], "total": 0, "hasMore": false}', 'free-text arguments have no suggestions');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "house_rules"}', '{"name": "dataset_id", "value": ""}') -> 'completion' -> 'total',
          '0', 'nor do arguments the prompt does not have');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "analyze_dataset"}', jsonb_build_object('name', 'dataset_id', 'value', repeat('9', 100000))) -> 'completion' -> 'total',
          '0', 'a huge value is harmless');
SELECT throws_ok($$SELECT mcp.complete('{"type": "ref/prompt", "name": "nope"}', '{"name": "x", "value": ""}')$$,
                 '22023', 'Unknown prompt: nope', 'an unknown prompt is refused');
SELECT throws_ok($$SELECT mcp.complete('{"type": "ref/resource", "uri": "file:///{x}"}', '{"name": "x", "value": ""}')$$,
                 '22023', NULL, 'so is an unknown template');
SELECT throws_ok($$SELECT mcp.complete('{"type": "ref/tool", "name": "execute_query"}', '{"name": "sql", "value": ""}')$$,
                 '22023', 'ref.type must be ref/prompt or ref/resource', 'and another kind of ref');
SELECT throws_ok($$SELECT mcp.complete('{"type": "ref/prompt", "name": "analyze_dataset"}', '[1]')$$,
                 '22023', NULL, 'and an argument that is not an object');
SELECT is(mcp.complete('{"type": "ref/prompt", "name": "explore_column"}', '{"name": "table_name", "value": ""}',
                       '{"arguments": {"dataset_id": "1; DROP TABLE x"}}') -> 'completion' -> 'total',
          '0', 'a malformed dataset_id in context suggests nothing');

-- Subscriptions --------------------------------------------------------------------------------
SELECT mcp.create_api_key('tap subscriber', 'reader') AS sub_secret \gset
SELECT api_key_id AS sub_key FROM mcp.authenticate(:'sub_secret') \gset
SELECT mcp.open_session(:sub_key, '2025-11-25') AS session \gset
SELECT mcp.open_session(:sub_key, '2025-11-25') AS other_session \gset
SELECT ok(mcp.subscribe_resource(:'session', :sub_key, 'mcp-analytics://datasets/' || :ds || '/overview'),
          'a session subscribes to a dataset resource');
SELECT ok(mcp.subscribe_resource(:'session', :sub_key, 'mcp-analytics://datasets/' || :ds || '/overview'),
          'subscribing twice is harmless');
SELECT ok(mcp.subscribe_resource(:'other_session', :sub_key, 'mcp-analytics://datasets'), 'another to the catalog');
SELECT ok(NOT mcp.subscribe_resource(:'session', :sub_key + 100000, 'mcp-analytics://datasets'),
          'a session of another key is not found');
SELECT throws_ok($$SELECT mcp.subscribe_resource('$$ || :'session' || $$', $$ || :sub_key || $$, 'file:///etc/passwd')$$,
                 '22023', NULL, 'URIs of other servers are refused');
SELECT results_eq($$SELECT session_id, uri FROM mcp.resource_subscribers(ARRAY[$$ || :ds || $$], ARRAY['$$ || :'session' || $$', '$$ || :'other_session' || $$']) ORDER BY uri$$,
                  $$VALUES ('$$ || :'other_session' || $$', 'mcp-analytics://datasets'),
                           ('$$ || :'session' || $$', 'mcp-analytics://datasets/$$ || :ds || $$/overview')$$,
                  'a dataset change reaches its resources'' and the catalog''s subscribers');
SELECT is_empty($$SELECT * FROM mcp.resource_subscribers(ARRAY[$$ || :wide || $$], ARRAY['$$ || :'session' || $$'])$$,
                'not those of other datasets');
SELECT is_empty($$SELECT * FROM mcp.resource_subscribers(ARRAY[$$ || :ds || $$], ARRAY['someone-else'])$$,
                'and only among the sessions the caller names');
SELECT ok(mcp.subscribe_resource(:'session', :sub_key, 'mcp-analytics://datasets/' || :ds || '/overview', false), 'unsubscribing');
SELECT is_empty($$SELECT * FROM mcp.resource_subscribers(ARRAY[$$ || :ds || $$], ARRAY['$$ || :'session' || $$'])$$,
                'ends the updates');
SELECT ok(mcp.close_session(:'other_session', :sub_key), 'closing a session');
SELECT is((SELECT count(*) FROM mcp.mcp_resource_subscriptions WHERE session_id = :'other_session'), 0::bigint,
          'drops its subscriptions');

SELECT * FROM finish();
ROLLBACK;
