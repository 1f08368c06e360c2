// MCP 2026-07-28 (stateless) spoken by a raw JSON-RPC client written from the
// specification's examples (the official SDK does not speak it yet), beside the
// initialize-based revisions on the same /mcp: no initialize, no session, version and client
// in every request's _meta, Mcp-Method / Mcp-Name headers checked against the body.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { env, sdkClient, startBridge, api, psql, waitFor, waitForStatus, call2026: call } = require('./harness.js');

const VERSION = '2026-07-28';

test('server/discover names 2026-07-28 and the initialize-based versions', async () => {
  const reply = await call(env.url, 'server/discover');
  assert.equal(reply.status, 200, reply.text);
  const result = reply.json.result;
  assert.equal(result.resultType, 'complete');
  assert.deepEqual(result.supportedVersions, ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05']);
  assert.equal(result._meta['io.modelcontextprotocol/serverInfo'].name, 'mcp-analytics');
  assert.ok(result.capabilities.tools && result.capabilities.completions);
  assert.equal(reply.headers.get('mcp-session-id'), null, 'no session is issued');
});

test('a whole conversation without initialize: lists, calls, reads, prompts, completion', async () => {
  const tools = await call(env.url, 'tools/list');
  assert.equal(tools.status, 200, tools.text);
  const listed = tools.json.result;
  assert.equal(listed.resultType, 'complete');
  assert.equal(typeof listed.ttlMs, 'number');
  assert.equal(listed.cacheScope, 'private');
  for (const tool of listed.tools) {
    assert.equal(tool.inputSchema.$schema, 'https://json-schema.org/draft/2020-12/schema', tool.name);
    if (tool.outputSchema) assert.equal(tool.outputSchema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  }
  const again = await call(env.url, 'tools/list');
  assert.deepEqual(again.json.result.tools.map((t) => t.name), listed.tools.map((t) => t.name), 'a deterministic order');

  const result = await call(env.url, 'tools/call', {
    name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT count(*) AS n FROM panelists' },
  });
  assert.equal(result.status, 200, result.text);
  assert.equal(result.json.result.resultType, 'complete');
  assert.equal(result.json.result.isError, false, result.text);
  assert.equal(result.json.result.structuredContent.row_count, 1);

  const badArgs = await call(env.url, 'tools/call', { name: 'execute_query', arguments: { dataset_id: 'one', sql: 'SELECT 1' } });
  assert.equal(badArgs.json.result.isError, true, 'validation failures are tool errors the model can fix');
  assert.match(badArgs.json.result.content[0].text, /dataset_id must be an integer/);

  const read = await call(env.url, 'resources/read', { uri: `mcp-analytics://datasets/${env.datasetId}/overview` });
  assert.equal(read.json.result.resultType, 'complete');
  assert.equal(typeof read.json.result.ttlMs, 'number');
  // Dataset text comes inside the untrusted-data fence (house rules).
  assert.match(read.json.result.contents[0].text, /^<untrusted-data id="[0-9a-f]{32}">\n# demo_panel/m);
  const missing = await call(env.url, 'resources/read', { uri: 'mcp-analytics://datasets/999999/overview' });
  assert.equal(missing.json.error.code, -32602, 'resource not found is -32602 in 2026-07-28');

  const prompt = await call(env.url, 'prompts/get', { name: 'analyze_dataset', arguments: { dataset_id: String(env.datasetId), question: 'Who?' } });
  assert.equal(prompt.json.result.resultType, 'complete');
  const completion = await call(env.url, 'completion/complete', {
    ref: { type: 'ref/prompt', name: 'explore_column' }, argument: { name: 'table_name', value: 'pan' },
    context: { arguments: { dataset_id: String(env.datasetId) } },
  });
  assert.deepEqual(completion.json.result.completion.values, ['panelists']);
});

test('headers must mirror the body: HeaderMismatch (-32020), versions (-32022), removed methods (404)', async () => {
  const noVersion = await call(env.url, 'tools/list', {}, { headers: { 'MCP-Protocol-Version': '' } });
  assert.equal(noVersion.status, 400);
  assert.equal(noVersion.json.error.code, -32020);
  const otherVersion = await call(env.url, 'tools/list', {}, { headers: { 'MCP-Protocol-Version': '2025-11-25' } });
  assert.equal(otherVersion.status, 400);
  assert.equal(otherVersion.json.error.code, -32020);
  const noMethod = await call(env.url, 'tools/list', {}, { headers: { 'Mcp-Method': '' } });
  assert.equal(noMethod.json.error.code, -32020);
  const wrongMethod = await call(env.url, 'tools/list', {}, { headers: { 'Mcp-Method': 'prompts/list' } });
  assert.equal(wrongMethod.status, 400);
  assert.match(wrongMethod.json.error.message, /Mcp-Method/);
  const wrongName = await call(env.url, 'tools/call', { name: 'list_datasets', arguments: {} }, { headers: { 'Mcp-Name': 'execute_query' } });
  assert.equal(wrongName.status, 400);
  assert.equal(wrongName.json.error.code, -32020);
  const noName = await call(env.url, 'prompts/get', { name: 'house_rules' }, { headers: { 'Mcp-Name': '' } });
  assert.equal(noName.json.error.code, -32020);
  const encoded = await call(env.url, 'tools/call', { name: 'list_datasets', arguments: {} },
    { headers: { 'Mcp-Name': `=?base64?${Buffer.from('list_datasets').toString('base64')}?=` } });
  assert.equal(encoded.status, 200, 'a Base64 sentinel Mcp-Name is decoded before comparing');
  assert.equal(encoded.json.result.isError, false);

  const future = await call(env.url, 'tools/list', {}, {
    headers: { 'MCP-Protocol-Version': '2099-01-01' }, meta: { 'io.modelcontextprotocol/protocolVersion': '2099-01-01' },
  });
  assert.equal(future.status, 400);
  assert.equal(future.json.error.code, -32022);
  assert.deepEqual(future.json.error.data.requested, '2099-01-01');
  assert.ok(future.json.error.data.supported.includes('2026-07-28'));

  for (const method of ['initialize', 'ping', 'logging/setLevel', 'resources/subscribe']) {
    const removed = await call(env.url, method);
    assert.equal(removed.status, 404, method);
    assert.equal(removed.json.error.code, -32601, method);
  }
  const badLevel = await call(env.url, 'tools/list', {}, { meta: { 'io.modelcontextprotocol/logLevel': 'shout' } });
  assert.equal(badLevel.json.error.code, -32602, 'the per-request log level is checked');
  const level = await call(env.url, 'tools/list', {}, { meta: { 'io.modelcontextprotocol/logLevel': 'debug' } });
  assert.equal(level.status, 200);
  const noKey = await call(env.url, 'tools/list', {}, { key: 'wrong' });
  assert.equal(noKey.status, 401);
});

test('W3C traceparent from _meta reaches the query log', async () => {
  const trace = `00-${'4bf92f3577b34da6a3ce929d0e0e4736'}-${Date.now().toString(16).padStart(16, '0').slice(-16)}-01`;
  const result = await call(env.url, 'tools/call', {
    name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT 42 AS traced' },
  }, { meta: { traceparent: trace } });
  assert.equal(result.json.result.isError, false, result.text);
  const logged = await waitFor(() => psql("SELECT count(*) FROM mcp.query_logs WHERE traceparent = :'t' AND query_text LIKE '%42 AS traced%'", { t: trace }) === '1',
    { what: 'the traced query-log row' });
  assert.ok(logged);
  await call(env.url, 'tools/call', { name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT 43 AS untraced' } },
    { meta: { traceparent: "00-'; DROP TABLE x; --" } });
  const row = await waitFor(() => psql("SELECT coalesce(traceparent, 'none') FROM mcp.query_logs WHERE query_text LIKE '%43 AS untraced%' ORDER BY id DESC LIMIT 1"),
    { what: 'the untraced row' });
  assert.equal(row, 'none', 'a malformed traceparent is dropped');
});

test('stateless calls spread across two bridges, an input_required round trip included', async (t) => {
  const other = await startBridge();
  t.after(() => other.stop());
  const urls = [env.url, other.url];
  for (let i = 0; i < 6; i++) {
    const reply = await call(urls[i % 2], 'tools/call', { name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: `SELECT ${i} AS i` } });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.result.structuredContent.row_count, 1);
  }
  // Eleven queries are "very expensive": a client that can answer a form is asked first.
  const queries = Array.from({ length: 11 }, (_, i) => ({ dataset_id: env.datasetId, sql: `SELECT ${i} AS q`, label: `q${i}` }));
  const caps = { 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } } };
  const asked = await call(env.url, 'tools/call', { name: 'execute_multi_query', arguments: { queries } }, { meta: caps });
  assert.equal(asked.json.result.resultType, 'input_required', asked.text);
  const request = asked.json.result.inputRequests.confirm;
  assert.equal(request.method, 'elicitation/create');
  assert.equal(request.params.requestedSchema.properties.confirm.type, 'boolean');
  // The retry is a new request (new id) to the OTHER bridge, with the answer and the state.
  const done = await call(other.url, 'tools/call', {
    name: 'execute_multi_query', arguments: { queries },
    inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
    requestState: asked.json.result.requestState,
  }, { meta: caps });
  assert.equal(done.json.result.resultType, 'complete', done.text);
  assert.equal(done.json.result.structuredContent.results.length, 11);
  const declined = await call(other.url, 'tools/call', {
    name: 'execute_multi_query', arguments: { queries },
    inputResponses: { confirm: { action: 'decline' } }, requestState: asked.json.result.requestState,
  }, { meta: caps });
  assert.equal(declined.json.result.isError, true);
  const tampered = await call(env.url, 'tools/call', {
    name: 'execute_multi_query', arguments: { queries: queries.slice(1).concat(queries.slice(0, 1)) },
    inputResponses: { confirm: { action: 'accept', content: { confirm: true } } },
    requestState: asked.json.result.requestState,
  }, { meta: caps });
  assert.equal(tampered.json.result.resultType, 'input_required', 'a state minted for other arguments confirms nothing');
});

test('the SDK client on 2025-11-25 and the raw 2026-07-28 client share one bridge', async (t) => {
  const { client, transport } = await sdkClient(env.url, { name: 'sdk-beside-2026' });
  t.after(() => client.close());
  assert.equal(transport.protocolVersion, '2025-11-25');
  const [legacy, modern] = await Promise.all([
    client.callTool({ name: 'list_datasets', arguments: {} }),
    call(env.url, 'tools/call', { name: 'list_datasets', arguments: {} }),
  ]);
  assert.equal(legacy.isError, false);
  assert.ok(!('resultType' in legacy), 'a 2025-11-25 result has no resultType');
  assert.deepEqual(modern.json.result.structuredContent, legacy.structuredContent);
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

test('subscriptions/listen: acknowledged, then tools/list_changed after an approval and resources/updated', async (t) => {
  const abort = new AbortController();
  t.after(() => abort.abort());
  const id = 'listen-1';
  const stream = await fetch(env.url + '/mcp', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${env.adminKey}`,
      'MCP-Protocol-Version': VERSION, 'Mcp-Method': 'subscriptions/listen',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'subscriptions/listen', params: {
      _meta: { 'io.modelcontextprotocol/protocolVersion': VERSION, 'io.modelcontextprotocol/clientCapabilities': {} },
      notifications: { toolsListChanged: true, resourceSubscriptions: [`mcp-analytics://datasets/${env.datasetId}/overview`] },
    } }),
    signal: abort.signal,
  });
  assert.equal(stream.status, 200);
  assert.match(stream.headers.get('content-type'), /text\/event-stream/);
  const events = [];
  const reading = collectEvents(stream, events);
  await waitFor(() => events.length > 0, { what: 'the acknowledgement' });
  assert.equal(events[0].method, 'notifications/subscriptions/acknowledged');
  assert.equal(events[0].params._meta['io.modelcontextprotocol/subscriptionId'], id);
  assert.equal(events[0].params.notifications.toolsListChanged, true);

  const created = await api(env.url, '/api/datasets', {
    method: 'POST', body: { name: `listen_${process.pid}`, connection_string: process.env.MCP_DEMO_CONNINFO },
  });
  assert.equal(created.status, 201, created.text);
  await waitForStatus(env.url, created.json.id, 'metadata_pending');
  events.length = 0;
  const approved = await api(env.url, `/api/datasets/${created.json.id}/approve`, { method: 'PATCH' });
  assert.equal(approved.status, 200, approved.text);
  await waitFor(() => events.some((e) => e.method === 'notifications/tools/list_changed'), { what: 'tools/list_changed' });
  const changed = events.find((e) => e.method === 'notifications/tools/list_changed');
  assert.equal(changed.params._meta['io.modelcontextprotocol/subscriptionId'], id);
  assert.ok(!events.some((e) => e.method === 'notifications/resources/list_changed'), 'only what was asked for');

  psql("UPDATE mcp.llm_metadata SET description = description WHERE dataset_id = :id", { id: env.datasetId });
  await waitFor(() => events.some((e) => e.method === 'notifications/resources/updated'), { what: 'resources/updated' });
  assert.equal(events.find((e) => e.method === 'notifications/resources/updated').params.uri,
    `mcp-analytics://datasets/${env.datasetId}/overview`);
  abort.abort();
  await reading;

  const bad = await call(env.url, 'subscriptions/listen', { notifications: { toolsListChanged: 'yes' } });
  assert.equal(bad.json.error.code, -32602);
});
