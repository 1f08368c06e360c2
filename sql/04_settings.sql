-- Business rules and mappings: defaults ship with the extension; edits are kept apart.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT key, is_default FROM mcp.settings();
SELECT mcp.get_setting('mappings.nccs') ->> 'B2' AS b2_becomes;
SELECT mcp.set_setting('rules.raw_rows', '"Never show more than 3 raw rows."');
SELECT key, value, is_default FROM mcp.settings() WHERE key = 'rules.raw_rows';
SELECT mcp.set_setting('rules.raw_rows', '3');                 -- wrong JSON type
SELECT mcp.set_setting('rules.unknown', '"x"');               -- unknown key
SELECT mcp.get_setting('nope');
SELECT mcp.reset_setting('rules.raw_rows') = (SELECT value FROM mcp.setting_defaults WHERE key = 'rules.raw_rows') AS back_to_default;
