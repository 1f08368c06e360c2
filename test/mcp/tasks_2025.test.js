// The experimental tasks of 2025-11-25 (params.task on tools/call; tasks/get, tasks/result,
// tasks/cancel) for initialize-based sessions, over the same stored tasks as 2026-07-28's.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, post, initialize, startBridge, psql, waitFor } = require('./harness.js');

const SLOW_SQL = 'SELECT count(*) AS n FROM events a CROSS JOIN events b CROSS JOIN panelists c';
let id = 100;
const rpc = (url, session, method, params) => post(url, { jsonrpc: '2.0', id: id++, method, params }, { session });

test('a 2025-11-25 session sees the tasks capability and taskSupport on the long tools', async () => {
  const { session, result } = await initialize(env.url, { name: 'tasks-2025' });
  assert.deepEqual(result.capabilities.tasks, { cancel: {}, requests: { tools: { call: {} } } });
  const { json } = await rpc(env.url, session, 'tools/list', {});
  const byName = Object.fromEntries(json.result.tools.map((t) => [t.name, t]));
  assert.equal(byName.execute_multi_query.execution.taskSupport, 'optional');
  assert.equal(byName.weighted_query.execution.taskSupport, 'optional');
  assert.ok(!('execution' in byName.execute_query), 'short tools do not run as tasks');
  const older = await initialize(env.url, { name: 'tasks-2025-06', version: '2025-06-18' });
  assert.ok(!('tasks' in older.result.capabilities), 'older sessions are not offered tasks');
});

test('tools/call with params.task: CreateTaskResult, tasks/get, then tasks/result from another bridge', async (t) => {
  const other = await startBridge();
  t.after(() => other.stop());
  const { session } = await initialize(env.url, { name: 'tasks-2025-result' });
  const created = await rpc(env.url, session, 'tools/call', {
    name: 'weighted_query', task: { ttl: 60000 },
    arguments: { dataset_id: env.datasetId, spec: { measure: 'reach', user_table: 'panelists', event_table: 'events', group_by: ['gender'] } },
  });
  const task = created.json.result.task;
  assert.match(task.taskId, /^[0-9a-f]{32}$/, created.text);
  assert.equal(task.status, 'working');
  assert.ok(task.createdAt && task.lastUpdatedAt && task.ttl > 0 && task.pollInterval > 0);
  assert.ok(!('content' in created.json.result), 'no result yet');
  const polled = await rpc(other.url, session, 'tasks/get', { taskId: task.taskId });
  assert.ok(['working', 'completed'].includes(polled.json.result.status), polled.text);
  const result = await rpc(other.url, session, 'tasks/result', { taskId: task.taskId });
  assert.equal(result.json.result.isError, false, result.text);
  assert.ok(result.json.result.structuredContent.rows.length >= 2);
  assert.equal(result.json.result._meta['io.modelcontextprotocol/related-task'].taskId, task.taskId);
  const done = await rpc(env.url, session, 'tasks/get', { taskId: task.taskId });
  assert.equal(done.json.result.status, 'completed');
  const again = await rpc(env.url, session, 'tasks/cancel', { taskId: task.taskId });
  assert.equal(again.json.error.code, -32602, 'a finished task cannot be cancelled');
});

test('tasks/cancel stops the running SQL; tools that are not tasks refuse params.task', async (t) => {
  const { session } = await initialize(env.url, { name: 'tasks-2025-cancel' });
  const created = await rpc(env.url, session, 'tools/call', {
    name: 'execute_multi_query', task: {}, arguments: { queries: [{ dataset_id: env.datasetId, sql: SLOW_SQL }] },
  });
  const taskId = created.json.result.task.taskId;
  const slow = () => Number(psql(`SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active'
    AND (query LIKE '%CROSS JOIN events b CROSS JOIN panelists%' OR application_name = 'mcp_task:${taskId}')`));
  await waitFor(() => slow() > 0, { what: 'the task\'s SQL to run' });
  const at = Date.now();
  const cancelled = await rpc(env.url, session, 'tasks/cancel', { taskId });
  assert.equal(cancelled.json.result.status, 'cancelled', cancelled.text);
  await waitFor(() => slow() === 0, { what: 'the SQL to stop', timeout: 5000, interval: 20 });
  const stoppedMs = Date.now() - at;
  t.diagnostic(`the task's SQL was gone from pg_stat_activity ${stoppedMs} ms after tasks/cancel`);
  assert.ok(stoppedMs < 1000, `stopped ${stoppedMs} ms after tasks/cancel`);
  const result = await rpc(env.url, session, 'tasks/result', { taskId });
  assert.match(result.json.error.message, /cancelled/);

  const refused = await rpc(env.url, session, 'tools/call', { name: 'execute_query', task: {}, arguments: { dataset_id: env.datasetId, sql: 'SELECT 1' } });
  assert.equal(refused.json.error.code, -32601);
  const bad = await rpc(env.url, session, 'tasks/get', { taskId: 'nope' });
  assert.equal(bad.json.error.code, -32602);
});
