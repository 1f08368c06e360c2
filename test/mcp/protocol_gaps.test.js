// What a strict 2025-11-25 client expects beyond the basics: Host checks against DNS
// rebinding, completion from the registry, icons, and resource subscriptions whose updates
// follow dataset changes, whichever bridge the subscribe reached.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { ResourceUpdatedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js');
const { env, sdkClient, startBridge, post, initialize, psql, waitFor } = require('./harness.js');

const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

// node:http, because fetch does not let a caller choose the Host header.
function postWithHost(url, host, body = ping) {
  const target = new URL(url + '/mcp');
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: target.hostname, port: target.port, path: '/mcp', method: 'POST',
      headers: {
        Host: host, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
        Authorization: `Bearer ${env.adminKey}`, 'Content-Length': Buffer.byteLength(payload),
      },
    }, (response) => {
      let text = '';
      response.on('data', (chunk) => { text += chunk; });
      response.on('end', () => resolve({ status: response.statusCode, text }));
    });
    request.on('error', reject);
    request.end(payload);
  });
}

test('a loopback bridge answers loopback Host names only; --allowed-hosts adds names', async (t) => {
  const port = new URL(env.url).port;
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) {
    assert.equal((await postWithHost(env.url, host)).status, 200, host);
  }
  for (const host of ['evil.example', `evil.example:${port}`, 'localhost.evil.example', '127.0.0.1.nip.io']) {
    const refused = await postWithHost(env.url, host);
    assert.equal(refused.status, 403, host);
    assert.match(JSON.parse(refused.text).error.message, /Host is not allowed/);
  }
  const configured = await startBridge({ args: ['--allowed-hosts', 'mcp.example.test'] });
  t.after(() => configured.stop());
  assert.equal((await postWithHost(configured.url, 'mcp.example.test:443')).status, 200);
  assert.equal((await postWithHost(configured.url, 'MCP.EXAMPLE.TEST')).status, 200, 'names are case-insensitive');
  assert.equal((await postWithHost(configured.url, 'other.example.test')).status, 403);
});

test('a foreign Origin is 403 even with a good Host; a loopback Origin passes', async () => {
  assert.equal((await post(env.url, ping, { headers: { Origin: 'https://evil.example' } })).status, 403);
  assert.equal((await post(env.url, ping, { headers: { Origin: 'http://localhost:6274' } })).status, 200);
});

test('completion/complete suggests dataset ids, table and column names from the registry', async (t) => {
  const { client } = await sdkClient(env.url, { name: 'sdk-completion' });
  t.after(() => client.close());
  assert.ok(client.getServerCapabilities().completions, 'the capability is declared');
  const ids = await client.complete({
    ref: { type: 'ref/prompt', name: 'analyze_dataset' }, argument: { name: 'dataset_id', value: 'demo' },
  });
  assert.ok(ids.completion.values.includes(String(env.datasetId)), 'the demo dataset by part of its name');
  const tables = await client.complete({
    ref: { type: 'ref/prompt', name: 'explore_column' }, argument: { name: 'table_name', value: 'ev' },
    context: { arguments: { dataset_id: String(env.datasetId) } },
  });
  assert.deepEqual(tables.completion.values, ['events']);
  const columns = await client.complete({
    ref: { type: 'ref/prompt', name: 'explore_column' }, argument: { name: 'column_name', value: 'plat' },
    context: { arguments: { dataset_id: String(env.datasetId), table_name: 'events' } },
  });
  assert.deepEqual(columns.completion.values, ['platform']);
  const templated = await client.complete({
    ref: { type: 'ref/resource', uri: 'mcp-analytics://datasets/{dataset_id}/tables/{table_name}' },
    argument: { name: 'table_name', value: 'pan' }, context: { arguments: { dataset_id: String(env.datasetId) } },
  });
  assert.deepEqual(templated.completion.values, ['panelists']);
  await assert.rejects(client.complete({ ref: { type: 'ref/prompt', name: 'no_such_prompt' }, argument: { name: 'x', value: '' } }),
    (error) => error.code === -32602);
  const { session } = await initialize(env.url);
  for (const params of [{}, { ref: 'x', argument: { name: 'a', value: '' } },
    { ref: { type: 'ref/prompt', name: 'analyze_dataset' }, argument: { name: 'dataset_id', value: 7 } },
    { ref: { type: 'ref/prompt', name: 'analyze_dataset' }, argument: { name: 'dataset_id', value: '' }, context: 'x' }]) {
    const reply = await post(env.url, { jsonrpc: '2.0', id: 9, method: 'completion/complete', params }, { session });
    assert.equal(reply.json.error.code, -32602, JSON.stringify(params));
  }
  const huge = await post(env.url, { jsonrpc: '2.0', id: 10, method: 'completion/complete',
    params: { ref: { type: 'ref/prompt', name: 'analyze_dataset' }, argument: { name: 'dataset_id', value: 'x'.repeat(500000) } } },
  { session });
  assert.deepEqual(huge.json.result.completion.values, []);
});

test('tools, resources and prompts carry titles and icons (2025-11-25), older versions none', async (t) => {
  const { client } = await sdkClient(env.url, { name: 'sdk-icons' });
  t.after(() => client.close());
  const { tools } = await client.listTools();
  for (const tool of tools) {
    assert.ok(tool.title, tool.name);
    assert.match(tool.icons[0].src, /^data:image\/svg\+xml;base64,/, tool.name);
  }
  const svg = Buffer.from(tools[0].icons[0].src.split(',')[1], 'base64').toString();
  assert.match(svg, /^<svg [^>]*>.*<\/svg>$/s);
  const { resources } = await client.listResources();
  assert.ok(resources.every((r) => r.icons?.length === 1 && r.title));
  const { prompts } = await client.listPrompts();
  assert.ok(prompts.every((p) => p.icons?.length === 1 && p.title));
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.ok(resourceTemplates.every((r) => r.icons?.length === 1));
  const { session } = await initialize(env.url, { version: '2025-06-18' });
  const older = await post(env.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { session, headers: { 'MCP-Protocol-Version': '2025-06-18' } });
  assert.ok(older.json.result.tools.every((tool) => !('icons' in tool) && tool.title));
});

test('resources/subscribe: a metadata change sends resources/updated; unsubscribe stops it', async (t) => {
  const watcher = await sdkClient(env.url, { name: 'sdk-subscriber' });
  const catalog = await sdkClient(env.url, { name: 'sdk-catalog-subscriber' });
  t.after(() => Promise.all([watcher.client.close(), catalog.client.close()]));
  assert.ok(watcher.client.getServerCapabilities().resources.subscribe);
  const overview = `mcp-analytics://datasets/${env.datasetId}/overview`;
  const seen = [];
  const catalogSeen = [];
  watcher.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { seen.push(n.params.uri); });
  catalog.client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { catalogSeen.push(n.params.uri); });
  await watcher.client.subscribeResource({ uri: overview });
  await catalog.client.subscribeResource({ uri: 'mcp-analytics://datasets' });
  await assert.rejects(watcher.client.subscribeResource({ uri: 'file:///etc/passwd' }), (error) => error.code === -32602);

  psql("UPDATE mcp.llm_metadata SET description = description || ' ' WHERE dataset_id = :id", { id: env.datasetId });
  await waitFor(() => seen.includes(overview), { what: 'resources/updated for the overview' });
  await waitFor(() => catalogSeen.includes('mcp-analytics://datasets'), { what: 'resources/updated for the catalog' });
  assert.deepEqual(seen, [overview], 'one update, for the subscribed resource only');

  await watcher.client.unsubscribeResource({ uri: overview });
  psql("UPDATE mcp.llm_metadata SET description = rtrim(description) WHERE dataset_id = :id", { id: env.datasetId });
  // The catalog subscriber is the witness that the change went round.
  await waitFor(() => catalogSeen.length === 2, { what: 'the second catalog update' });
  assert.deepEqual(seen, [overview], 'nothing after unsubscribing');
});

// Reads server-sent events from a fetch response into `into`, until aborted.
async function collectEvents(response, into) {
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('');
        if (data) into.push(JSON.parse(data));
      }
    }
  } catch { /* aborted */ }
}

test('a subscription made through one bridge is honoured by the bridge holding the stream', async (t) => {
  const other = await startBridge();
  t.after(() => other.stop());
  const { session } = await initialize(env.url, { name: 'two-bridge-subscriber' });
  const abort = new AbortController();
  t.after(() => abort.abort());
  const stream = await fetch(env.url + '/mcp', {
    headers: { Authorization: `Bearer ${env.adminKey}`, 'Mcp-Session-Id': session, Accept: 'text/event-stream' },
    signal: abort.signal,
  });
  assert.equal(stream.status, 200);
  const events = [];
  const reading = collectEvents(stream, events);
  const schema = `mcp-analytics://datasets/${env.datasetId}/schema`;
  const subscribed = await post(other.url, { jsonrpc: '2.0', id: 3, method: 'resources/subscribe', params: { uri: schema } }, { session });
  assert.deepEqual(subscribed.json.result, {});
  psql("UPDATE mcp.llm_metadata SET description = description WHERE dataset_id = :id", { id: env.datasetId });
  await waitFor(() => events.some((e) => e.method === 'notifications/resources/updated' && e.params.uri === schema),
    { what: 'the update on the first bridge\'s stream' });
  abort.abort();
  await reading;
});
