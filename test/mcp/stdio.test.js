// `mcp-bridge --stdio`: one session on stdin/stdout, as desktop clients start servers.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { env, newKey, psql, psqlLog } = require('./harness.js');

function stdioTransport(key) {
  return new StdioClientTransport({
    command: env.bridgeBin,
    args: ['--stdio'],
    env: { PATH: process.env.PATH, MCP_BRIDGE_DATABASE_URL: env.databaseUrl, ...(key ? { MCP_API_KEY: key } : {}) },
    stderr: 'pipe',
  });
}

test('an SDK client talks to mcp-bridge --stdio', async (t) => {
  const transport = stdioTransport(env.readerKey);
  let stderr = '';
  const client = new Client({ name: 'stdio-desktop', version: '3.1.4' });
  const errors = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  transport.stderr.on('data', (chunk) => { stderr += chunk; });
  t.after(() => client.close());

  assert.equal(client.getServerVersion().name, 'mcp-analytics');
  const { tools } = await client.listTools();
  assert.ok(tools.some((x) => x.name === 'execute_query'));
  const result = await client.callTool({
    name: 'execute_query',
    arguments: { dataset_id: env.datasetId, sql: 'SELECT count(*) AS users FROM panelists' },
  });
  assert.equal(result.isError, false, result.content[0].text);
  assert.equal(result.structuredContent.row_count, 1);
  assert.deepEqual(await client.ping(), {});
  const [ping1, ping2] = await Promise.all([client.ping(), client.ping()]);
  assert.deepEqual([ping1, ping2], [{}, {}], 'requests may overlap');
  assert.deepEqual(errors, [], 'stdout carried nothing but MCP messages');
  const logged = psqlLog("SELECT count(*) FROM mcp.query_logs WHERE client_name = 'stdio-desktop' AND client_version = '3.1.4'");
  assert.equal(logged, '1', 'the stdio client is named in the query log');
});

test('stdio sessions get list_changed when a dataset changes', async (t) => {
  const transport = stdioTransport(env.adminKey);
  const client = new Client({ name: 'stdio-reload', version: '1.0.0' });
  const { ToolListChangedNotificationSchema } = require('@modelcontextprotocol/sdk/types.js');
  let notified = false;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { notified = true; });
  await client.connect(transport);
  t.after(() => client.close());
  await client.listTools();
  await new Promise((r) => setTimeout(r, 300));  // LISTEN is up
  psql("SELECT mcp.update_dataset(:'id'::integer, '{\"description\": \"Synthetic panel (edited)\"}')", { id: env.datasetId });
  const deadline = Date.now() + 2000;
  while (!notified && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(notified, 'notifications/tools/list_changed arrived on stdout');
});

test('a missing or revoked key stops --stdio with exit code 1 and a reason on stderr', async () => {
  const run = (key) => new Promise((resolve) => {
    const child = spawn(env.bridgeBin, ['--stdio'], {
      env: { PATH: process.env.PATH, MCP_BRIDGE_DATABASE_URL: env.databaseUrl, ...(key ? { MCP_API_KEY: key } : {}) },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
  const missing = await run(null);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /MCP_API_KEY/);
  assert.equal(missing.stdout, '', 'nothing but MCP on stdout');
  const key = newKey(`stdio-revoked-${process.pid}`);
  psql("SELECT mcp.revoke_api_key(:'name')", { name: `stdio-revoked-${process.pid}` });
  const revoked = await run(key);
  assert.equal(revoked.code, 1);
  assert.match(revoked.stderr, /revoked or expired/);
  assert.doesNotMatch(revoked.stderr, new RegExp(key), 'the key is never logged');
});

test('stdio answers parse errors and unknown methods, and ends at end of input', async () => {
  const child = spawn(env.bridgeBin, ['--stdio'], {
    env: { PATH: process.env.PATH, MCP_BRIDGE_DATABASE_URL: env.databaseUrl, MCP_API_KEY: env.readerKey },
  });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.stdin.write('{not json\n');
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }) + '\n');
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'no/such/method' }) + '\n');
  child.stdin.end();
  assert.equal(await exited, 0);
  const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.equal(lines.length, 3, stdout);
  assert.equal(lines[0].error.code, -32700);
  assert.equal(lines[1].result.protocolVersion, '2024-11-05');
  assert.equal(lines[2].error.code, -32601);
});
