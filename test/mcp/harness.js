// Shared helpers of the MCP client tests: the environment test/mcp/run.sh prepared, extra
// bridge processes, SQL through psql, raw JSON-RPC over fetch, and SDK clients.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const readline = require('node:readline');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through test/mcp/run.sh`);
  return value;
}

const env = {
  get url() { return required('MCP_TEST_URL'); },           // the bridge run.sh started
  get adminKey() { return required('MCP_TEST_ADMIN_KEY'); },
  get readerKey() { return required('MCP_TEST_READER_KEY'); },
  get bridgeBin() { return required('MCP_BRIDGE_BIN'); },
  get database() { return required('MCP_TEST_DB'); },
  get databaseUrl() { return required('MCP_TEST_DB_URL'); },
  get datasetId() { return Number(required('MCP_TEST_DATASET_ID')); },
  get inspectorBin() { return required('MCP_INSPECTOR_BIN'); },
};

// Runs SQL on the test's metadata database; :'name' variables come from `vars`.
function psql(sql, vars = {}) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', env.database];
  for (const [name, value] of Object.entries(vars)) args.push('-v', `${name}=${value}`);
  return execFileSync('psql', args, { input: sql, encoding: 'utf8' }).trim();
}

// psql over the query log: rows still queued for the log writer are written first, in a
// statement of their own (so the query after it sees them).
function psqlLog(sql, vars = {}) {
  return psql(`DO $$BEGIN PERFORM mcp.flush_query_log(); END$$;\n${sql}`, vars);
}

function newKey(name, role = 'reader') {
  return psql("SELECT mcp.create_api_key(:'name', :'role')", { name, role });
}

// Starts another mcp-bridge on a free port; resolves once it listens.
function startBridge({ args = [], env: extraEnv = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(env.bridgeBin, ['--listen', '127.0.0.1:0', ...args], {
      env: { ...process.env, MCP_BRIDGE_DATABASE_URL: env.databaseUrl, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stderr.on('data', (chunk) => { log += chunk; });
    const timer = setTimeout(() => reject(new Error('bridge did not start: ' + log)), 10000);
    readline.createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (!match) return reject(new Error('unexpected first line: ' + line));
      resolve({
        url: match[1],
        process: child,
        log: () => log,
        stop: () => new Promise((done) => {
          if (child.exitCode !== null) return done(child.exitCode);
          child.once('exit', (code) => done(code));
          child.kill('SIGTERM');
        }),
      });
    });
    child.once('error', reject);
  });
}

// One JSON-RPC POST, as raw as a test needs it.
async function post(url, body, { key = env.adminKey, session, headers = {} } = {}) {
  const response = await fetch(url + '/mcp', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
      ...(key ? { Authorization: `Bearer ${key}` } : {}),
      ...(session ? { 'Mcp-Session-Id': session } : {}),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: response.status, headers: response.headers, text, json };
}

async function initialize(url, { key = env.adminKey, version = '2025-11-25', name = 'raw-test', headers = {} } = {}) {
  const reply = await post(url, {
    jsonrpc: '2.0', id: 0, method: 'initialize',
    params: { protocolVersion: version, capabilities: {}, clientInfo: { name, version: '0.0.1' } },
  }, { key, headers });
  if (reply.status !== 200) throw new Error(`initialize failed: ${reply.status} ${reply.text}`);
  const session = reply.headers.get('mcp-session-id');
  await post(url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { key, session });
  return { session, result: reply.json.result };
}

// An official SDK client over Streamable HTTP, connected.
async function sdkClient(url, { key = env.adminKey, name = 'sdk-test', fetch: customFetch } = {}) {
  const transport = new StreamableHTTPClientTransport(new URL(url + '/mcp'), {
    requestInit: { headers: { Authorization: `Bearer ${key}`, 'User-Agent': `${name}-agent/1.0` } },
    ...(customFetch ? { fetch: customFetch } : {}),
  });
  const client = new Client({ name, version: '1.0.0' });
  const errors = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(transport);
  return { client, transport, errors };
}

async function waitFor(check, { timeout = 10000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, interval));
  }
}

// Waits for a dataset to reach a status (profiling runs in the background workers).
async function waitForStatus(url, id, status, { timeout = 30000 } = {}) {
  return waitFor(async () => {
    const reply = await api(url, `/api/datasets/${id}`);
    return reply.json?.status === status ? reply.json : null;
  }, { timeout, what: `dataset ${id} to become ${status}` });
}

async function api(url, path, { method = 'GET', key = env.adminKey, body, headers = {} } = {}) {
  const response = await fetch(url + path, {
    method,
    headers: {
      ...(key ? { Authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: response.status, headers: response.headers, text, json };
}

// One MCP 2026-07-28 request (no session: version, client and capabilities in _meta), with the
// headers the transport requires unless a test overrides them.
let nextId2026 = 1;
async function call2026(url, method, params = {}, { headers = {}, meta = {}, key = env.adminKey, id } = {}) {
  const body = {
    jsonrpc: '2.0', id: id ?? `req-${nextId2026++}`, method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': '2026-07-28',
        'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '1.0.0' },
        'io.modelcontextprotocol/clientCapabilities': {},
        ...meta,
      },
    },
  };
  const name = params.name ?? params.uri;
  const response = await fetch(url + '/mcp', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json', Accept: 'application/json, text/event-stream',
      Authorization: `Bearer ${key}`, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': method,
      ...(typeof name === 'string' && ['tools/call', 'resources/read', 'prompts/get'].includes(method) ? { 'Mcp-Name': name } : {}),
      ...headers,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, headers: response.headers, json, text };
}

module.exports = { env, psql, psqlLog, newKey, startBridge, post, initialize, sdkClient, waitFor, waitForStatus, api, call2026 };
