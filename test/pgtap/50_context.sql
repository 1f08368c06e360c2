-- Progressive context: level 0 the rules from mcp.settings, 1 the live datasets, 2 one
-- dataset, 3 one table with at most five sample rows. Every level keeps to its token budget,
-- trimming with a note; answers are cached and dropped when what they show changes. Token
-- counts are exact BPE counts with a rank file, estimates without.
\getenv demo_conninfo MCP_DEMO_CONNINFO
\getenv key_dir MCP_TEST_KEY_DIR
BEGIN;
SELECT plan(33);
SET LOCAL client_min_messages = warning;
SET LOCAL mcp_analytics.profile_on_register = on;

SELECT mcp.register_dataset('tap_context', :'demo_conninfo') AS id \gset
CALL mcp.run_pending_jobs();
SELECT throws_ok(format('SELECT mcp.context(2, %s)', :id), '55000', NULL, 'a dataset under review is not shown to clients');
SELECT lives_ok(format($$SELECT mcp.approve_dataset(%s, 'tap')$$, :id), 'approved');

-- Level 0: the rules, from the editable settings
SELECT ok(mcp.context(0) LIKE '%' || (mcp.get_setting('rules.weighting') #>> '{}') || '%', 'level 0 carries the weighting rule from mcp.settings');
SELECT ok(mcp.context(0) LIKE '%A1, A2, A3 → A%', 'and the NCCS merges');
SELECT lives_ok($$SELECT mcp.set_setting('rules.low_base', '"Caveat any base under 42 users."')$$, 'a rule is edited');
SELECT ok(mcp.context(0) LIKE '%under 42 users%', 'level 0 shows the edit at once (its cache was dropped)');

-- Every level within its budget
SELECT ok(tokens <= 500, format('level 0: %s tokens within 500', tokens)) FROM mcp.context_info(0) AS i(l, tokens);
SELECT ok(tokens <= 2000, format('level 1: %s tokens within 2,000', tokens)) FROM mcp.context_info(1) AS i(l, tokens);
SELECT ok(tokens <= 5000, format('level 2: %s tokens within 5,000', tokens)) FROM mcp.context_info(2, :id) AS i(l, tokens);
SELECT ok(tokens <= 10000, format('level 3: %s tokens within 10,000', tokens)) FROM mcp.context_info(3, :id, 'events') AS i(l, tokens);
SELECT is((SELECT token_count FROM mcp.context_info(2, :id)), mcp.count_tokens(mcp.context(2, :id)), 'the reported count is the text''s count');
SELECT ok(mcp.context(1) LIKE '%tap_context (id ' || :id || ')%', 'level 1 lists the live dataset');
SELECT ok(mcp.context(2, :id) LIKE '%- weight (numeric(10,4)) [weight]%', 'level 2 lists columns with types and roles');
SELECT ok(mcp.context(3, :id, 'panelists') LIKE '%top values M %', 'level 3 shows statistics');

-- Five raw rows at most
SELECT is((SELECT count(*) FROM regexp_split_to_table(mcp.context(3, :id, 'events'), E'\n') AS line WHERE line ~ '^\| [0-9]'),
          5::bigint, 'level 3 shows five sample rows of the ten profiled');
SET LOCAL mcp_analytics.max_raw_rows = 2;
SELECT is((SELECT count(*) FROM regexp_split_to_table(mcp.context(3, :id, 'events'), E'\n') AS line WHERE line ~ '^\| [0-9]'),
          2::bigint, 'and no more than mcp_analytics.max_raw_rows');
RESET mcp_analytics.max_raw_rows;

-- Small budgets: trimmed with a note, never over
SET LOCAL mcp_analytics.context_tokens_level2 = 400;
SELECT ok(tokens <= 400 AND trimmed, format('level 2 with a 400-token budget: %s tokens, trimmed', tokens))
  FROM mcp.context_info(2, :id) AS i(l, tokens, b, c, trimmed);
SELECT ok(mcp.context(2, :id) LIKE '%[Trimmed to fit the 400-token budget of level 2:%', 'with a note saying so');
SET LOCAL mcp_analytics.context_tokens_level2 = 120;
SELECT ok(tokens <= 120, format('level 2 with a 120-token budget: %s tokens (lines cut)', tokens)) FROM mcp.context_info(2, :id) AS i(l, tokens);
SELECT ok(mcp.context(2, :id) LIKE '%lines; ask for a narrower level.]%', 'the note says how much was cut');
SET LOCAL mcp_analytics.context_tokens_level3 = 300;
SELECT ok(tokens <= 300 AND trimmed, format('level 3 with a 300-token budget: %s tokens', tokens))
  FROM mcp.context_info(3, :id, 'events') AS i(l, tokens, b, c, trimmed);
SET LOCAL mcp_analytics.context_tokens_level1 = 100;
SELECT ok(tokens <= 100, format('level 1 with a 100-token budget: %s tokens', tokens)) FROM mcp.context_info(1) AS i(l, tokens);
RESET mcp_analytics.context_tokens_level1;
RESET mcp_analytics.context_tokens_level2;
RESET mcp_analytics.context_tokens_level3;

-- Cache
SELECT ok(mcp.clear_context_cache() >= 0, 'the cache can be cleared');
SELECT is((SELECT cached FROM mcp.context_info(2, :id)), false, 'first answer: rendered');
SELECT is((SELECT cached FROM mcp.context_info(2, :id)), true, 'second answer: from mcp.context_cache');
SELECT lives_ok(format($$SELECT mcp.update_metadata(%s, '{"description": "Reviewed text for the context test."}')$$, :id), 'metadata edited');
SELECT is((SELECT cached FROM mcp.context_info(2, :id)), false, 'the edit dropped the cached answer');
SELECT ok(mcp.context(2, :id) LIKE '%Reviewed text for the context test.%', 'and the context shows the edit');

-- Bad requests
SELECT throws_ok('SELECT mcp.context(7)', '22023', NULL, 'levels are 0 to 3');
SELECT throws_ok('SELECT mcp.context(2)', '22023', NULL, 'level 2 needs a dataset');
SELECT throws_ok(format($$SELECT mcp.context(3, %s, 'no_such_table')$$, :id), '42P01', NULL, 'level 3 needs a table of the dataset');

-- Token counts: exact BPE with a rank file (a tiny one here: bytes, "he", "ll", "hell")
SELECT format('%s/tap_ranks.tiktoken', :'key_dir') AS rank_file \gset
COPY (SELECT encode(decode(lpad(to_hex(b), 2, '0'), 'hex'), 'base64') || ' ' || b FROM generate_series(0, 255) b
      UNION ALL VALUES ('aGU= 256'), ('bGw= 257'), ('aGVsbA== 258')) TO :'rank_file';
SET LOCAL mcp_analytics.token_rank_file = :'rank_file';
SELECT is(mcp.token_counter(), 'o200k', 'with a rank file the counter is exact BPE');
SELECT results_eq($$SELECT mcp.count_tokens('hello world'), mcp.count_tokens('Hello'), mcp.count_tokens('it''s 2026!')$$,
                  $$VALUES (8, 4, 10)$$,
                  'hello → hell+o, " world" → 6 bytes; Hello → H e ll o; pieces "it''s" " " "202" "6" "!" (4+1+3+1+1)');

SELECT * FROM finish();
ROLLBACK;
