// After the metadata database restarts, the bridge serves again without a restart of its
// own: the pool reconnects, and the LISTEN connection comes back and tells the clients to
// reload. Runs last: it restarts the test cluster.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ToolListChangedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js');
const { env, sdkClient, waitFor } = require('./harness.js');

const cluster = process.env.MCP_TEST_WORK;
const script = path.join(__dirname, '..', 'support', 'pg_cluster.sh');

test('the bridge recovers from a database restart', { skip: !cluster && 'MCP_TEST_WORK is not set' }, async (t) => {
  const { client } = await sdkClient(env.url, { name: 'restart-survivor' });
  t.after(() => client.close());
  let reloads = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { reloads += 1; });
  const query = () => client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT 42 AS answer' } });
  assert.equal((await query()).isError, false);
  await new Promise((r) => setTimeout(r, 300));
  reloads = 0;

  execFileSync(script, ['stop', cluster]);
  const down = await fetch(env.url + '/healthz');
  assert.equal(down.status, 503, 'healthz reports the outage');
  execFileSync(script, ['start', cluster]);

  await waitFor(async () => (await fetch(env.url + '/healthz')).status === 200, { what: 'healthz', timeout: 15000 });
  const after = await query();
  assert.equal(after.isError, false, after.content[0].text);
  assert.match(after.content[0].text, /42/);
  await waitFor(() => reloads > 0, { what: 'list_changed after the reconnect', timeout: 10000 });
});
