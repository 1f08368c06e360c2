// Sessions live in the metadata database: two bridge processes serve one session in turn,
// as they would behind a load balancer.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { ToolListChangedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js');
const { env, startBridge, sdkClient, post, initialize, psql } = require('./harness.js');

test('two bridges serve one SDK session alternately', async (t) => {
  const second = await startBridge();
  t.after(() => second.stop());
  const targets = [new URL(env.url), new URL(second.url)];
  const served = [];
  let turn = 0;
  // A round-robin "load balancer" inside the client: every HTTP request goes to the next bridge.
  const alternate = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const target = targets[turn++ % targets.length];
    url.host = target.host;
    served.push(`${init?.method ?? 'GET'} ${target.port}`);
    return fetch(url, init);
  };
  const { client, transport } = await sdkClient(env.url, { name: 'two-bridges', fetch: alternate });
  t.after(() => client.close());
  for (let i = 0; i < 4; ++i) {
    const result = await client.callTool({
      name: 'execute_query',
      arguments: { dataset_id: env.datasetId, sql: `SELECT ${i} AS turn` },
    });
    assert.equal(result.isError, false, result.content[0].text);
  }
  const { tools } = await client.listTools();
  assert.ok(tools.length >= 6);
  const ports = new Set(served.map((s) => s.split(' ')[1]));
  assert.equal(ports.size, 2, `both bridges served: ${served.join(', ')}`);
  const sessions = psql("SELECT count(*) FROM mcp.mcp_sessions WHERE client_name = 'two-bridges'");
  assert.equal(sessions, '1', 'one session, whichever bridge answered');
  assert.match(transport.sessionId, /^[0-9a-f]{64}$/);
});

test('a session opened on one bridge is closed through the other', async (t) => {
  const second = await startBridge();
  t.after(() => second.stop());
  const { session } = await initialize(env.url, { name: 'close-elsewhere' });
  assert.equal((await post(second.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { session })).status, 200);
  const closed = await fetch(second.url + '/mcp', {
    method: 'DELETE', headers: { Authorization: `Bearer ${env.adminKey}`, 'Mcp-Session-Id': session },
  });
  assert.equal(closed.status, 204);
  assert.equal((await post(env.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { session })).status, 404);
});

test('a list_changed reaches a stream held by the other bridge', async (t) => {
  const second = await startBridge();
  t.after(() => second.stop());
  // All of this client's requests, its GET stream included, go to the second bridge.
  const toSecond = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    url.host = new URL(second.url).host;
    return fetch(url, init);
  };
  const { client } = await sdkClient(env.url, { name: 'stream-elsewhere', fetch: toSecond });
  t.after(() => client.close());
  let notified = false;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { notified = true; });
  await client.listTools();
  await new Promise((r) => setTimeout(r, 300));
  // The change is made through the first bridge's API.
  const response = await fetch(`${env.url}/api/datasets/${env.datasetId}/metadata`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${env.adminKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_notes: 'touched by the two-bridges test' }),
  });
  assert.equal(response.status, 200, await response.text());
  psql("SELECT mcp.update_dataset(:'id'::integer, '{\"description\": \"Synthetic panel (two bridges)\"}')", { id: env.datasetId });
  const deadline = Date.now() + 2000;
  while (!notified && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(notified);
});
