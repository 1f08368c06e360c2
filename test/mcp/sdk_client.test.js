// The official TypeScript SDK client: the whole conversation a desktop or IDE client has,
// and the hot reload it relies on.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { ToolListChangedNotificationSchema, ResourceListChangedNotificationSchema, McpError } =
  require('@modelcontextprotocol/sdk/types.js');
const { env, sdkClient, api, waitFor, waitForStatus, psql } = require('./harness.js');

test('initialize → tools/list → tools/call, with structured results', async (t) => {
  const { client, transport, errors } = await sdkClient(env.url, { name: 'sdk-conversation' });
  t.after(() => client.close());
  assert.equal(client.getServerVersion().name, 'mcp-analytics');
  assert.equal(transport.protocolVersion, '2025-11-25', 'the SDK\'s latest version is echoed');
  assert.match(transport.sessionId, /^[0-9a-f]{64}$/);
  assert.ok(client.getServerCapabilities().tools.listChanged);

  const { tools } = await client.listTools();
  assert.ok(tools.length >= 6);
  // callTool validates structuredContent against the tool's outputSchema.
  const result = await client.callTool({
    name: 'execute_query',
    arguments: { dataset_id: env.datasetId, sql: 'SELECT platform, count(DISTINCT user_id) AS users FROM events GROUP BY 1 ORDER BY 1', format: 'json' },
  });
  assert.equal(result.isError, false, result.content[0].text);
  assert.equal(result.structuredContent.row_count, 2);
  assert.deepEqual(result.structuredContent.rows.map((r) => r[0]), ['ctv', 'mobile'], 'rows as arrays in column order');

  const context = await client.callTool({ name: 'get_global_context', arguments: {} });
  assert.match(context.content[0].text, /weigh/i);
  const listed = await client.callTool({ name: 'list_datasets', arguments: {} });
  assert.ok(listed.structuredContent.datasets.some((d) => d.id === env.datasetId));
  const described = await client.callTool({ name: 'describe_dataset', arguments: { dataset_id: env.datasetId } });
  assert.ok(described.structuredContent.tables.some((x) => x.table_name === 'panelists'));
  const detail = await client.callTool({ name: 'get_table_detail', arguments: { dataset_id: env.datasetId, table_name: 'events' } });
  assert.equal(detail.isError, false, detail.content[0].text);
  const multi = await client.callTool({
    name: 'execute_multi_query',
    arguments: { queries: [
      { dataset_id: env.datasetId, sql: 'SELECT count(*) FROM panelists', label: 'users' },
      { dataset_id: env.datasetId, sql: 'SELECT count(*) FROM no_such_table', label: 'broken' },
    ] },
  });
  assert.equal(multi.structuredContent.results.length, 2);
  assert.equal(multi.structuredContent.results[1].ok, false, 'one failing query fails alone');
  assert.match(multi.content[0].text, /## users/);
  assert.deepEqual(errors, [], 'no transport errors (the GET stream opened)');
});

test('tool failures are results the model can read; unknown tools are protocol errors', async (t) => {
  const { client } = await sdkClient(env.url, { name: 'sdk-errors' });
  t.after(() => client.close());
  const refused = await client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'DROP TABLE panelists' } });
  assert.equal(refused.isError, true);
  assert.match(refused.content[0].text, /read-only/);
  const badArgs = await client.callTool({ name: 'execute_query', arguments: { dataset_id: 'demo', sql: 'SELECT 1' } });
  assert.equal(badArgs.isError, true);
  assert.match(badArgs.content[0].text, /dataset_id must be an integer/);
  await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }),
    (error) => error instanceof McpError && error.code === -32602);
});

test('resources, templates, prompts, ping and logging', async (t) => {
  const { client } = await sdkClient(env.url, { name: 'sdk-resources' });
  t.after(() => client.close());
  const { resources } = await client.listResources();
  const uris = resources.map((r) => r.uri);
  assert.ok(uris.includes(`mcp-analytics://datasets/${env.datasetId}/overview`));
  assert.ok(uris.includes(`mcp-analytics://datasets/${env.datasetId}/schema`));
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.ok(resourceTemplates.some((r) => r.uriTemplate.includes('{dataset_id}')));
  const schema = await client.readResource({ uri: `mcp-analytics://datasets/${env.datasetId}/schema` });
  assert.equal(schema.contents[0].mimeType, 'text/markdown');
  assert.match(schema.contents[0].text, /panelists/);
  const table = await client.readResource({ uri: `mcp-analytics://datasets/${env.datasetId}/tables/events` });
  assert.ok(table.contents[0].text.length > 0);
  await assert.rejects(client.readResource({ uri: 'mcp-analytics://datasets/999999/overview' }),
    (error) => error.code === -32002);

  const { prompts } = await client.listPrompts();
  assert.deepEqual(prompts.map((p) => p.name).sort(), ['analyze_dataset', 'explore_column', 'house_rules']);
  const prompt = await client.getPrompt({ name: 'house_rules' });
  assert.match(prompt.messages[0].content.text, /five raw rows|5 raw/i);
  await assert.rejects(client.getPrompt({ name: 'analyze_dataset', arguments: { question: 'x' } }),
    (error) => error.code === -32602);

  assert.deepEqual(await client.ping(), {});
  await client.setLoggingLevel('warning');
  assert.equal(psql("SELECT log_level FROM mcp.mcp_sessions WHERE client_name = 'sdk-resources'"), 'warning');
});

test('the client name, version and user agent reach the query log', async (t) => {
  const name = `sdk-log-${process.pid}`;
  const { client, transport } = await sdkClient(env.url, { name });
  t.after(() => client.close());
  await client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT 1 AS one' } });
  const logs = await api(env.url, `/api/logs?client=${encodeURIComponent(name)}&since=1h`, { key: env.readerKey });
  assert.equal(logs.status, 200, logs.text);
  assert.equal(logs.json.total, 1);
  const row = logs.json.items[0];
  assert.equal(row.client_name, name);
  assert.equal(row.client_version, '1.0.0');
  assert.equal(row.user_agent, `${name}-agent/1.0`);
  assert.equal(row.session_id, transport.sessionId);
  assert.equal(row.mcp_tool, 'execute_query');
  assert.equal(row.tool_used, name);  // no known client family in the name: the name itself
  assert.ok(row.api_key_id > 0);
});

test('approving a dataset sends tools/list_changed and resources/list_changed within a second', async (t) => {
  const { client } = await sdkClient(env.url, { name: 'sdk-hot-reload' });
  t.after(() => client.close());
  const seen = [];
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => seen.push({ what: 'tools', at: Date.now() }));
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => seen.push({ what: 'resources', at: Date.now() }));

  const created = await api(env.url, '/api/datasets', {
    method: 'POST',
    body: { name: `hot_reload_${process.pid}`, connection_string: process.env.MCP_DEMO_CONNINFO },
  });
  assert.equal(created.status, 201, created.text);
  const id = created.json.id;
  await waitForStatus(env.url, id, 'metadata_pending');
  await new Promise((r) => setTimeout(r, 300));  // earlier notifications (profiling) settle
  seen.length = 0;
  const before = (await client.listTools()).tools.find((x) => x.name === 'execute_query').description;
  assert.doesNotMatch(before, new RegExp(`${id} = hot_reload`));

  const approvedAt = Date.now();
  const approved = await api(env.url, `/api/datasets/${id}/approve`, { method: 'PATCH' });
  assert.equal(approved.status, 200, approved.text);
  assert.equal(approved.json.approved_by, 'node tests admin', 'the key\'s name is the approver');
  await waitFor(() => seen.some((s) => s.what === 'tools') && seen.some((s) => s.what === 'resources'),
    { what: 'list_changed notifications', timeout: 3000, interval: 20 });
  const latency = Math.max(...seen.map((s) => s.at)) - approvedAt;
  assert.ok(latency < 1000, `notified ${latency} ms after the approval`);
  const after = (await client.listTools()).tools.find((x) => x.name === 'execute_query').description;
  assert.match(after, new RegExp(`${id} = hot_reload`), 'the cached catalog was dropped');
  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === `mcp-analytics://datasets/${id}/overview`));
});

test('terminating the session ends it for good', async () => {
  const { client, transport } = await sdkClient(env.url, { name: 'sdk-terminate' });
  const session = transport.sessionId;
  await transport.terminateSession();
  const after = await fetch(env.url + '/mcp', {
    method: 'POST',
    headers: { Authorization: `Bearer ${env.adminKey}`, 'Content-Type': 'application/json', 'Mcp-Session-Id': session },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(after.status, 404);
  await client.close();
});

test('a reader key may query but not approve', async (t) => {
  const { client } = await sdkClient(env.url, { key: env.readerKey, name: 'sdk-reader' });
  t.after(() => client.close());
  const result = await client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT 1' } });
  assert.equal(result.isError, false);
  const approve = await api(env.url, `/api/datasets/${env.datasetId}/approve`, { method: 'PATCH', key: env.readerKey });
  assert.equal(approve.status, 403, approve.text);
});
