-- Review and approval: get_metadata shows what was written and by whom; update_metadata marks
-- it edited and keeps the generated version for a diff; a new generated version does not
-- overwrite a reviewer's edits; approve_dataset only from metadata_pending, recording who and
-- when; deactivate and reprofile; readers read, admins change.
\getenv demo_conninfo MCP_DEMO_CONNINFO
BEGIN;
SELECT plan(30);
SET LOCAL client_min_messages = warning;
SET LOCAL mcp_analytics.profile_on_register = on;

SELECT mcp.register_dataset('tap_review', :'demo_conninfo') AS id \gset
SELECT throws_ok(format('SELECT mcp.get_metadata(%s)', :id), 'P0002', NULL, 'no metadata before the jobs ran');
SELECT throws_ok(format('SELECT mcp.approve_dataset(%s)', :id), '55000', NULL, 'a draft cannot be approved');
CALL mcp.run_pending_jobs();
SELECT is((SELECT status FROM mcp.dataset(:id)), 'metadata_pending', 'profiled and described: waiting for review');

-- What the reviewer sees
SELECT mcp.get_metadata(:id) AS m \gset
SELECT is((:'m'::jsonb) ->> 'written_by', 'profile', 'written from the profile (no LLM endpoint configured)');
SELECT is(((:'m'::jsonb) ->> 'written_by_llm')::boolean, false, '... marked as not written by an LLM');
SELECT ok(length((:'m'::jsonb) ->> 'description') > 40, 'it has a description');
SELECT ok((:'m'::jsonb) -> 'data_dictionary' ? 'panelists.weight', 'and a data dictionary entry for each column');
SELECT ok(jsonb_array_length((:'m'::jsonb) -> 'quality_observations') > 0, 'and quality observations');
SELECT ok(jsonb_array_length((:'m'::jsonb) -> 'recommended_use_cases') > 0, 'and use cases');
SELECT is((:'m'::jsonb) ->> 'date_range_start', '2026-07-01', 'and the date range');
SELECT is((:'m'::jsonb) -> 'diff', '{}'::jsonb, 'nothing edited yet: an empty diff');

-- Editing
SELECT lives_ok(format($$SELECT mcp.update_metadata(%s, '{"description": "Edited by a reviewer.", "recommended_use_cases": ["Reach"], "user_notes": "checked"}')$$, :id),
                'a reviewer edits the description and use cases');
SELECT mcp.get_metadata(:id) AS m2 \gset
SELECT is(((:'m2'::jsonb) ->> 'user_edited')::boolean, true, 'the metadata is marked user_edited');
SELECT is((:'m2'::jsonb) -> 'diff' -> 'description' ->> 'current', 'Edited by a reviewer.', 'the diff shows the edit');
SELECT is((:'m2'::jsonb) -> 'diff' -> 'description' ->> 'generated', (:'m'::jsonb) ->> 'description', '... beside the generated text');
SELECT is((:'m2'::jsonb) ->> 'user_notes', 'checked', 'notes are kept');
SELECT throws_ok(format($$SELECT mcp.update_metadata(%s, '{"colour": "red"}')$$, :id), '22023', NULL, 'unknown fields are refused');
SELECT throws_ok(format($$SELECT mcp.update_metadata(%s, '{"recommended_use_cases": "Reach"}')$$, :id), '22023', NULL, 'lists must be arrays of strings');
SELECT throws_ok(format($$SELECT mcp.update_metadata(%s, '{"date_range_start": "July"}')$$, :id), '22023', NULL, 'dates must be dates');

-- A new generated version leaves the edits alone
INSERT INTO mcp.jobs (kind, dataset_id, status, attempts) VALUES ('llm_metadata', :id, 'running', 1) RETURNING id AS job \gset
SELECT is(mcp._store_metadata(:job, 1, '{"description": "Regenerated.", "written_by": "llm", "llm_model": "m"}'), true, 'metadata generated again');
SELECT is((SELECT description FROM mcp.llm_metadata WHERE dataset_id = :id), 'Edited by a reviewer.', 'the reviewer''s description stays');
SELECT is((SELECT generated ->> 'description' FROM mcp.llm_metadata WHERE dataset_id = :id), 'Regenerated.', 'the new generated version is beside it');

-- Approval
SELECT results_eq(format($$SELECT status, approved_by, approved_at IS NOT NULL, use_cases FROM mcp.approve_dataset(%s, 'Ana Reviewer')$$, :id),
                  $$VALUES ('approved', 'Ana Reviewer', true, ARRAY['Reach'])$$,
                  'approved: status, approver, time, and the reviewed use cases on the dataset');
SELECT is((SELECT user_approved FROM mcp.llm_metadata WHERE dataset_id = :id), true, 'the metadata is marked approved');
SELECT throws_ok(format('SELECT mcp.approve_dataset(%s)', :id), '55000', NULL, 'approving twice is refused');

-- Deactivate, then back through review
SELECT is((SELECT status FROM mcp.deactivate_dataset(:id)), 'inactive', 'deactivated');
SELECT throws_ok(format('SELECT mcp.approve_dataset(%s)', :id), '55000', NULL, 'an inactive dataset is not approved directly');
SELECT ok(mcp.reprofile_dataset(:id) > 0, 'reprofiling queues a job');
SELECT is((SELECT status FROM mcp.dataset(:id)), 'profiling', 'and puts it back into profiling');

-- Privileges
SELECT ok(has_function_privilege('mcp_reader', 'mcp.get_metadata(integer)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.update_metadata(integer, jsonb)', 'EXECUTE')
          AND NOT has_function_privilege('mcp_reader', 'mcp.approve_dataset(integer, text)', 'EXECUTE')
          AND has_function_privilege('mcp_admin', 'mcp.approve_dataset(integer, text)', 'EXECUTE')
          AND has_function_privilege('mcp_admin', 'mcp.deactivate_dataset(integer)', 'EXECUTE')
          AND has_function_privilege('mcp_admin', 'mcp.reprofile_dataset(integer, text[])', 'EXECUTE'),
          'readers read metadata; admins edit, approve, deactivate and reprofile');

SELECT * FROM finish();
ROLLBACK;
