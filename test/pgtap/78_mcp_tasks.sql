-- MCP tasks in the extension: created with a handle, run to the end, seen only by their key,
-- cancelled before or while they run.
BEGIN;
\getenv demo_conninfo MCP_DEMO_CONNINFO
SELECT plan(20);

SELECT mcp.create_api_key('tap tasks', 'reader') AS task_secret \gset
SELECT api_key_id AS task_key FROM mcp.authenticate(:'task_secret') \gset
SELECT mcp.create_api_key('tap tasks other', 'reader') AS other_secret \gset
SELECT api_key_id AS other_key FROM mcp.authenticate(:'other_secret') \gset

SELECT mcp.create_task(:task_key, 'get_global_context', '{}', '{"client_name": "tap"}') AS created \gset
SELECT ok((:'created'::jsonb ->> 'taskId') ~ '^[0-9a-f]{32}$', 'a task gets a 32-hex-digit handle');
SELECT is(:'created'::jsonb ->> 'status', 'working', 'it starts working');
SELECT ok(:'created'::jsonb ?& ARRAY['createdAt', 'lastUpdatedAt', 'ttlMs', 'pollIntervalMs'], 'with the times MCP shows');
SELECT :'created'::jsonb ->> 'taskId' AS task_id \gset
SELECT is(mcp.get_task(:'task_id', :other_key), NULL, 'another key does not see it');
SELECT ok(NOT mcp.cancel_task(:'task_id', :other_key), 'nor can cancel it');
SELECT ok(mcp.get_task(:'task_id', :task_key) ->> 'statusMessage' LIKE 'get_global_context queued for %', 'not yet run: queued');
SELECT is(mcp.run_task(:'task_id', :task_key), 'completed', 'run_task runs the tool to the end');
SELECT is(mcp.get_task(:'task_id', :task_key) ->> 'status', 'completed', 'tasks/get then says completed');
SELECT ok((mcp.get_task(:'task_id', :task_key) -> 'result' -> 'content' -> 0 ->> 'text') LIKE '%weigh%', 'with the tool''s result');
SELECT is(mcp.run_task(:'task_id', :task_key), 'completed', 'running it again changes nothing');

SELECT mcp.create_task(:task_key, 'get_global_context') ->> 'taskId' AS early_id \gset
SELECT ok(mcp.cancel_task(:'early_id', :task_key), 'a queued task can be cancelled');
SELECT is(mcp.run_task(:'early_id', :task_key), 'cancelled', 'and then never runs');

SELECT throws_ok($$SELECT mcp.create_task($$ || :task_key || $$, 'no_such_tool')$$, '42883', 'Unknown tool: no_such_tool',
                 'an unknown tool makes no task');
SELECT ok(NOT has_function_privilege('public', 'mcp.cancel_task(text,integer)', 'EXECUTE'), 'PUBLIC may not cancel tasks');

-- Re-profiling: the task lasts as long as the profile job it queued.
SELECT mcp.register_dataset('tap_task_reprofile', :'demo_conninfo') AS ds \gset
SELECT mcp.create_task(:task_key, 'reprofile_dataset', jsonb_build_object('dataset_id', :ds)) ->> 'taskId' AS job_task \gset
SELECT is(mcp.run_task(:'job_task', :task_key), 'working', 'a re-profiling task stays working once its job is queued');
SELECT ok((SELECT job_id FROM mcp.mcp_tasks WHERE id = :'job_task') IS NOT NULL, 'and follows that job');
SELECT ok(mcp.get_task(:'job_task', :task_key) ->> 'statusMessage' ~ '^profile job [0-9]+ queued$', 'tasks/get shows the job''s progress');
SELECT ok(mcp.cancel_task(:'job_task', :task_key), 'cancelling it');
SELECT is((SELECT j.status FROM mcp.jobs j JOIN mcp.mcp_tasks t ON t.job_id = j.id WHERE t.id = :'job_task'), 'cancelled',
          'cancels the job');
SELECT is(mcp.get_task(:'job_task', :task_key) ->> 'status', 'cancelled', 'and the task reads cancelled');

SELECT * FROM finish();
ROLLBACK;
