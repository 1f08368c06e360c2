// Tasks (the io.modelcontextprotocol/tasks extension of 2026-07-28): a long tool call is
// answered with a handle at once, polled with tasks/get, and cancelled with tasks/cancel
// from any bridge, which stops its SQL in PostgreSQL.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, startBridge, psql, waitFor, call2026: call } = require('./harness.js');

const withTasks = { 'io.modelcontextprotocol/clientCapabilities': { extensions: { 'io.modelcontextprotocol/tasks': {} } } };
// Long enough to be caught running; the same cross join the cancellation test uses.
const SLOW_SQL = 'SELECT count(*) AS n FROM events a CROSS JOIN events b CROSS JOIN panelists c';

// Backends (other than this psql's) running the slow query, wherever they are: the task's own
// and the dataset connection it opened.
function slowBackends() {
  return Number(psql(`SELECT count(*) FROM pg_stat_activity
                       WHERE pid <> pg_backend_pid() AND state = 'active'
                         AND (query LIKE '%CROSS JOIN events b CROSS JOIN panelists%' OR application_name LIKE 'mcp_task:%')`));
}

test('server/discover advertises the tasks extension', async () => {
  const reply = await call(env.url, 'server/discover');
  assert.ok(reply.json.result.capabilities.extensions['io.modelcontextprotocol/tasks']);
});

test('a weighted_query task is created, polled and completes with the tool result', async () => {
  const created = await call(env.url, 'tools/call', {
    name: 'weighted_query',
    arguments: { dataset_id: env.datasetId, spec: { measure: 'reach', user_table: 'panelists', event_table: 'events', group_by: ['gender'] } },
  }, { meta: withTasks });
  assert.equal(created.status, 200, created.text);
  const task = created.json.result;
  assert.equal(task.resultType, 'task');
  assert.match(task.taskId, /^[0-9a-f]{32}$/);
  assert.equal(task.status, 'working');
  assert.ok(task.ttlMs > 0 && task.pollIntervalMs > 0 && task.createdAt);
  const done = await waitFor(async () => {
    const polled = await call(env.url, 'tasks/get', { taskId: task.taskId });
    assert.equal(polled.json.result.resultType, 'complete', polled.text);
    return polled.json.result.status === 'completed' ? polled.json.result : null;
  }, { what: 'the task to complete', timeout: 30000, interval: 200 });
  assert.equal(done.result.isError, false, JSON.stringify(done.result));
  assert.ok(done.result.structuredContent.rows.length >= 2, 'one row per gender');
  assert.ok(!('resultType' in done.result) || done.result.resultType === 'complete');
});

test('a running execute_multi_query task is cancelled from another bridge: its SQL is gone within a second', async (t) => {
  const other = await startBridge();
  t.after(() => other.stop());
  const created = await call(env.url, 'tools/call', {
    name: 'execute_multi_query',
    arguments: { queries: [{ dataset_id: env.datasetId, sql: SLOW_SQL, label: 'slow' }] },
  }, { meta: withTasks });
  const id = created.json.result.taskId;
  assert.ok(id, created.text);
  // Polled from the other bridge: the state is in the metadata database.
  const running = await waitFor(async () => {
    const polled = await call(other.url, 'tasks/get', { taskId: id });
    return polled.json.result.status === 'working' && /running/.test(polled.json.result.statusMessage) ? polled.json.result : null;
  }, { what: 'the task to run', timeout: 10000, interval: 100 });
  assert.match(running.statusMessage, /execute_multi_query running for [\d.]+ s/);
  await waitFor(() => slowBackends() > 0, { what: 'the slow query in pg_stat_activity' });

  const cancelledAt = Date.now();
  const cancel = await call(other.url, 'tasks/cancel', { taskId: id });
  assert.deepEqual(cancel.json.result.resultType, 'complete', cancel.text);
  await waitFor(() => slowBackends() === 0, { what: 'the SQL to stop', timeout: 5000, interval: 20 });
  const stoppedMs = Date.now() - cancelledAt;
  t.diagnostic(`the task's SQL was gone from pg_stat_activity ${stoppedMs} ms after tasks/cancel`);
  assert.ok(stoppedMs < 1000, `the SQL was gone from pg_stat_activity ${stoppedMs} ms after tasks/cancel`);
  const final = await waitFor(async () => {
    const polled = await call(env.url, 'tasks/get', { taskId: id });
    return polled.json.result.status !== 'working' ? polled.json.result : null;
  }, { what: 'the cancelled status' });
  assert.equal(final.status, 'cancelled');
  assert.ok(!('result' in final));
});

test('tasks belong to the key that started them; bad handles are -32602', async () => {
  const created = await call(env.url, 'tools/call', {
    name: 'weighted_query', arguments: { dataset_id: env.datasetId, spec: { measure: 'reach' } },
  }, { meta: withTasks });
  const id = created.json.result.taskId;
  const foreign = await call(env.url, 'tasks/get', { taskId: id }, { key: env.readerKey });
  assert.equal(foreign.json.error.code, -32602, 'another key cannot see it');
  const foreignCancel = await call(env.url, 'tasks/cancel', { taskId: id }, { key: env.readerKey });
  assert.equal(foreignCancel.json.error.code, -32602, 'nor cancel it');
  for (const taskId of ['0'.repeat(32), 'x', 42, "'; DROP TABLE mcp.mcp_tasks; --", 'a'.repeat(100000)]) {
    const reply = await call(env.url, 'tasks/get', { taskId });
    assert.equal(reply.json.error.code, -32602, String(taskId).slice(0, 40));
  }
  const plain = await call(env.url, 'tools/call', {
    name: 'weighted_query', arguments: { dataset_id: env.datasetId, spec: { measure: 'reach' } },
  });
  assert.equal(plain.json.result.resultType, 'complete', 'a client without the extension gets the result itself');
});

test('reprofile_dataset runs as a task that follows its profile job; readers may not start it', async () => {
  const { api, waitForStatus } = require('./harness.js');
  const created = await api(env.url, '/api/datasets', {
    method: 'POST', body: { name: `reprofile_task_${process.pid}`, connection_string: process.env.MCP_DEMO_CONNINFO },
  });
  assert.equal(created.status, 201, created.text);
  const datasetId = created.json.id;
  await waitForStatus(env.url, datasetId, 'metadata_pending');

  const refused = await call(env.url, 'tools/call', { name: 'reprofile_dataset', arguments: { dataset_id: datasetId } },
    { key: env.readerKey, meta: withTasks });
  const refusedResult = refused.json.result.resultType === 'task'
    ? await waitFor(async () => {
      const polled = await call(env.url, 'tasks/get', { taskId: refused.json.result.taskId }, { key: env.readerKey });
      return polled.json.result.status !== 'working' ? polled.json.result.result : null;
    }, { what: 'the refused task to end' })
    : refused.json.result;
  assert.equal(refusedResult.isError, true);
  assert.match(refusedResult.content[0].text, /admin key/);

  const started = await call(env.url, 'tools/call', { name: 'reprofile_dataset', arguments: { dataset_id: datasetId } }, { meta: withTasks });
  assert.equal(started.json.result.resultType, 'task', started.text);
  const messages = new Set();
  const done = await waitFor(async () => {
    const polled = (await call(env.url, 'tasks/get', { taskId: started.json.result.taskId })).json.result;
    if (polled.statusMessage) messages.add(polled.statusMessage);
    return polled.status !== 'working' ? polled : null;
  }, { what: 'the profile job to end', timeout: 60000, interval: 100 });
  assert.equal(done.status, 'completed', JSON.stringify(done));
  // The task reports the job it follows (on a quick machine the job may be done by the first poll).
  assert.ok([...messages].some((m) => /^profile job \d+ (queued|running|done)/.test(m)), [...messages].join(' | '));
  assert.equal(done.result.structuredContent.dataset_id, datasetId);
  await waitForStatus(env.url, datasetId, 'metadata_pending');

  const again = await call(env.url, 'tools/call', { name: 'reprofile_dataset', arguments: { dataset_id: datasetId } }, { meta: withTasks });
  const taskId = again.json.result.taskId;
  await waitFor(async () => (await call(env.url, 'tasks/get', { taskId })).json.result.statusMessage?.startsWith('profile job'),
    { what: 'the job to be queued' });
  const cancelled = await call(env.url, 'tasks/cancel', { taskId });
  assert.equal(cancelled.json.result.resultType, 'complete');
  const final = await waitFor(async () => {
    const polled = (await call(env.url, 'tasks/get', { taskId })).json.result;
    return polled.status !== 'working' ? polled : null;
  }, { what: 'the cancelled status' });
  assert.ok(['cancelled', 'completed'].includes(final.status), 'cancelled, unless the job had already finished');
});
