// Benchmark of mcp-bridge: tools/call execute_query('SELECT 1') from a raw keep-alive HTTP
// client (1 and 16 connections, no SDK) and through the official SDK client (1 and 8 clients,
// each its own session), beside plain libpq round trips measured in the same run: SELECT 1,
// and SELECT mcp.execute_query(id, 'SELECT 1') (the same work without the bridge and MCP).
// The peer: the reference PostgreSQL MCP server from npm (@modelcontextprotocol/server-postgres,
// Node, the SDK and node-postgres; its `query` tool runs SQL in a read-only transaction), over
// stdio as it is made to run, on the same dataset; beside it mcp-bridge --stdio, the same
// transport, and mcp-bridge over HTTP. Each SDK client spawns its own server process. Over
// HTTP the peer runs behind supergateway (npm; stdio to Streamable HTTP, a server process per
// session), as a stdio server is put on the network.
// Prints figures and ratios; never fails on a timing.
//
// Environment: MCP_URL (…/mcp), MCP_API_KEY, BENCH_PG_URL (libpq conninfo of the metadata
// database, as the bridge connects), PG_ROUNDTRIP_BIN, HTTP_ROUNDTRIP_BIN, and optionally
// BENCH_SECONDS (5), BENCH_DATASET_ID (default: the first dataset list_datasets shows),
// BENCH_REPORT (a file that collects the figures for make bench's table); for the stdio
// measurements BRIDGE_BIN, PEER_SERVER_JS and PEER_DATABASE_URL (the dataset, as its reader),
// and GATEWAY_JS (supergateway) for the peer over HTTP.
'use strict';
const { execFileSync, spawn } = require('node:child_process');
const net = require('node:net');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');

const url = need('MCP_URL');
const key = need('MCP_API_KEY');
const pgUrl = need('BENCH_PG_URL');
const roundtrip = need('PG_ROUNDTRIP_BIN');
const rawClient = need('HTTP_ROUNDTRIP_BIN');
const seconds = Number(process.env.BENCH_SECONDS || 5);

function need(name) {
  if (!process.env[name]) {
    console.error(`bridge_bench: ${name} is not set (see test/bench/bridge_bench.sh)`);
    process.exit(2);
  }
  return process.env[name];
}

function percentile(sorted, q) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.round(q * (sorted.length - 1)))];
}

async function connect(name) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
  });
  const client = new Client({ name, version: '1.0.0' });
  await client.connect(transport);
  return client;
}

// Node's fetch may reuse a pooled keep-alive connection in the very moment the bridge closes
// it for idleness (after the long raw-client phases): one more attempt on a fresh one.
async function retryOnceIfFetchFailed(measure) {
  try {
    return await measure();
  } catch (error) {
    if (!/fetch failed/.test(String(error && error.message))) throw error;
    console.log(`  (${error.message}: measured again)`);
    return measure();
  }
}

// `clients` SDK clients, each calling `tool` with `args` in a loop for the measurement's time.
async function measureSdk(sessions, tool, args) {
  const clients = sessions.length;
  const call = (client) => client.callTool({ name: tool, arguments: args });
  // Warm-up: connections of the pool, plans, the result cache.
  await Promise.all(sessions.map(async (client) => { for (let i = 0; i < 20; ++i) await call(client); }));
  const latencies = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  const end = started + BigInt(Math.round(seconds * 1e9));
  await Promise.all(sessions.map(async (client) => {
    while (process.hrtime.bigint() < end) {
      const t0 = process.hrtime.bigint();
      const result = await call(client);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (result.isError) errors += 1;
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all(sessions.map((client) => client.close()));
  latencies.sort((a, b) => a - b);
  return { clients, calls: latencies.length, errors, calls_per_s: latencies.length / elapsed,
    p50_ms: percentile(latencies, 0.5), p95_ms: percentile(latencies, 0.95) };
}

async function measureBridge(clients, datasetId) {
  const sessions = await Promise.all(Array.from({ length: clients }, (_, i) => connect(`bridge-bench-${clients}-${i}`)));
  return measureSdk(sessions, 'execute_query', { dataset_id: datasetId, sql: 'SELECT 1' });
}

// A free TCP port on the loopback interface.
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
    server.on('error', reject);
  });
}

// The peer behind supergateway over Streamable HTTP (stateful: one peer process per session),
// measured with SDK clients as mcp-bridge is.
async function measureGateway(clients, peerArgs) {
  const port = await freePort();
  const gateway = spawn(process.execPath, [need('GATEWAY_JS'), '--stdio', peerArgs.map((a) => `'${a}'`).join(' '),
    '--outputTransport', 'streamableHttp', '--stateful', '--port', String(port), '--logLevel', 'none'],
    { stdio: 'ignore' });
  try {
    const gatewayUrl = new URL(`http://127.0.0.1:${port}/mcp`);
    for (let i = 0; i < 100; ++i) {  // up when it accepts connections
      const up = await new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => { socket.end(); resolve(true); });
        socket.on('error', () => resolve(false));
      });
      if (up) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const sessions = await Promise.all(Array.from({ length: clients }, async (_, i) => {
      const client = new Client({ name: `gateway-bench-${clients}-${i}`, version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(gatewayUrl));
      return client;
    }));
    return await measureSdk(sessions, 'query', { sql: 'SELECT 1' });
  } finally {
    gateway.kill('SIGTERM');
  }
}

// SDK clients over stdio, each with its own server process: `command args` with `env`.
async function measureStdio(clients, command, args, env, tool, toolArgs) {
  const sessions = await Promise.all(Array.from({ length: clients }, async (_, i) => {
    const transport = new StdioClientTransport({ command, args, env: { ...process.env, ...env }, stderr: 'ignore' });
    const client = new Client({ name: `stdio-bench-${clients}-${i}`, version: '1.0.0' });
    await client.connect(transport);
    return client;
  }));
  return measureSdk(sessions, tool, toolArgs);
}

// The same call through fetch, in one protocol revision or the other: a 2025-11-25 session
// (initialize first, then Mcp-Session-Id) or a 2026-07-28 stateless request (_meta and the
// Mcp-Method/Mcp-Name headers on every call).
async function measureFetchEra(clients, datasetId, era) {
  const headers = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', Authorization: `Bearer ${key}` };
  const post = (body, extra) => fetch(url, { method: 'POST', headers: { ...headers, ...extra }, body: JSON.stringify(body) });
  const callers = await Promise.all(Array.from({ length: clients }, async (_, i) => {
    const params = { name: 'execute_query', arguments: { dataset_id: datasetId, sql: 'SELECT 1' } };
    if (era === '2026-07-28') {
      const meta = { 'io.modelcontextprotocol/protocolVersion': era,
        'io.modelcontextprotocol/clientInfo': { name: `bridge-bench-raw-${i}`, version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {} };
      const extra = { 'MCP-Protocol-Version': era, 'Mcp-Method': 'tools/call', 'Mcp-Name': 'execute_query' };
      return async (id) => (await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { ...params, _meta: meta } }, extra)).json();
    }
    const init = await post({ jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: era, capabilities: {}, clientInfo: { name: `bridge-bench-raw-${i}`, version: '1' } } });
    await init.text();
    const session = init.headers.get('mcp-session-id');
    const extra = { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': era };
    await (await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, extra)).text();
    return async (id) => (await post({ jsonrpc: '2.0', id, method: 'tools/call', params }, extra)).json();
  }));
  let id = 1;
  await Promise.all(callers.map(async (call) => { for (let i = 0; i < 20; ++i) await call(id++); }));
  const latencies = [];
  let errors = 0;
  const started = process.hrtime.bigint();
  const end = started + BigInt(Math.round(seconds * 1e9));
  await Promise.all(callers.map(async (call) => {
    while (process.hrtime.bigint() < end) {
      const t0 = process.hrtime.bigint();
      const reply = await call(id++);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (!reply.result || reply.result.isError) errors += 1;
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return { clients, calls: latencies.length, errors, calls_per_s: latencies.length / elapsed,
    p50_ms: percentile(latencies, 0.5), p95_ms: percentile(latencies, 0.95) };
}

function measureLibpq(clients, sql) {
  const out = execFileSync(roundtrip, ['--url', pgUrl, '--sql', sql, '--clients', String(clients), '--seconds', String(seconds)],
    { encoding: 'utf8' });
  return JSON.parse(out);
}

async function rawSession() {
  const post = (body, session) => fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream', ...(session ? { 'Mcp-Session-Id': session } : {}) },
    body: JSON.stringify(body),
  });
  const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
    protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'http-roundtrip', version: '1.0.0' } } });
  const session = init.headers.get('mcp-session-id');
  if (!init.ok || !session) throw new Error(`initialize failed: ${init.status}`);
  await init.text();
  const done = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
  await done.text();
  return session;
}

// The raw keep-alive client: one body, N connections, no SDK.
function measureRaw(clients, session, body) {
  const port = new URL(url).port;
  const out = execFileSync(rawClient, ['--port', port, '--path', new URL(url).pathname,
    '--header', `Authorization: Bearer ${key}`, '--header', `Mcp-Session-Id: ${session}`,
    '--body', JSON.stringify(body), '--clients', String(clients), '--seconds', String(seconds),
    '--error-text', '"isError":true'], { encoding: 'utf8' });
  return JSON.parse(out);
}

function row(label, m) {
  return `${label.padEnd(48)} ${String(m.clients).padStart(7)} ${m.p50_ms.toFixed(3).padStart(9)} ${m.p95_ms.toFixed(3).padStart(9)} ${m.calls_per_s.toFixed(0).padStart(10)}` +
    (m.errors ? `  (${m.errors} errors)` : '');
}

// One line per figure for the report make bench prints (test/bench/report.sh).
function report(label, value, unit, baselineLabel, baseline, target) {
  if (!process.env.BENCH_REPORT) return;
  require('node:fs').appendFileSync(process.env.BENCH_REPORT,
    [label, value.toFixed(3), unit, baselineLabel, baseline.toFixed(3), target].join('\t') + '\n');
}

(async () => {
  const probe = await connect('bridge-bench-probe');
  let datasetId = Number(process.env.BENCH_DATASET_ID || 0);
  if (!datasetId) {
    const listed = await probe.callTool({ name: 'list_datasets', arguments: {} });
    datasetId = listed.structuredContent?.datasets?.[0]?.id;
    if (!datasetId) throw new Error('no approved dataset: approve one or set BENCH_DATASET_ID');
  }
  const check = await probe.callTool({ name: 'execute_query', arguments: { dataset_id: datasetId, sql: 'SELECT 1' } });
  if (check.isError) throw new Error(check.content[0].text);
  await probe.close();

  console.log(`mcp-bridge benchmark: ${seconds}s per measurement, dataset ${datasetId}, ${url}`);
  console.log(`${'measurement'.padEnd(48)} ${'clients'.padStart(7)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'calls/s'.padStart(10)}`);
  const r = {};
  const show = (name, label, m) => { r[name] = m; console.log(row(label, m)); };
  const session = await rawSession();
  const call = { jsonrpc: '2.0', id: 7, method: 'tools/call',
    params: { name: 'execute_query', arguments: { dataset_id: datasetId, sql: 'SELECT 1' } } };
  for (const clients of [1, 16]) {
    show(`libpq_select1_${clients}`, 'libpq SELECT 1', measureLibpq(clients, 'SELECT 1'));
    show(`libpq_execute_query_${clients}`, "libpq SELECT mcp.execute_query(id, 'SELECT 1')",
      measureLibpq(clients, `SELECT mcp.execute_query(${datasetId}, 'SELECT 1')`));
    if (clients === 1) {
      show('raw_ping_1', 'raw HTTP ping', measureRaw(1, session, { jsonrpc: '2.0', id: 1, method: 'ping' }));
      show('raw_tools_list_1', 'raw HTTP tools/list', measureRaw(1, session, { jsonrpc: '2.0', id: 2, method: 'tools/list' }));
    }
    show(`raw_call_${clients}`, 'raw HTTP tools/call execute_query SELECT 1', measureRaw(clients, session, call));
  }
  for (const clients of [1, 8]) {
    show(`sdk_${clients}`, 'SDK client tools/call execute_query SELECT 1', await retryOnceIfFetchFailed(() => measureBridge(clients, datasetId)));
  }
  const peerJs = need('PEER_SERVER_JS');
  const bridgeEnv = { MCP_BRIDGE_DATABASE_URL: pgUrl, MCP_API_KEY: key };
  for (const clients of [1, 8]) {
    show(`http_peer_${clients}`, 'SDK client, HTTP: peer behind supergateway',
      await measureGateway(clients, [process.execPath, peerJs, need('PEER_DATABASE_URL')]));
  }
  for (const clients of [1, 8]) {
    show(`stdio_ours_${clients}`, 'SDK client, stdio: mcp-bridge --stdio',
      await measureStdio(clients, need('BRIDGE_BIN'), ['--stdio'], bridgeEnv, 'execute_query', { dataset_id: datasetId, sql: 'SELECT 1' }));
    show(`stdio_peer_${clients}`, 'SDK client, stdio: peer (server-postgres)',
      await measureStdio(clients, process.execPath, [peerJs, need('PEER_DATABASE_URL')], {}, 'query', { sql: 'SELECT 1' }));
  }

  const raw1 = r.raw_call_1;
  const lib1 = r.libpq_select1_1;
  const fn1 = r.libpq_execute_query_1;
  console.log('ratios:');
  console.log(`  raw HTTP tools/call p50 ${raw1.p50_ms.toFixed(3)} ms = ${(raw1.p50_ms / lib1.p50_ms).toFixed(1)}x libpq SELECT 1; ` +
    `the bridge adds ${(raw1.p50_ms - fn1.p50_ms).toFixed(3)} ms to libpq execute_query, ` +
    `execute_query adds ${(fn1.p50_ms - lib1.p50_ms).toFixed(3)} ms to libpq SELECT 1`);
  console.log(`  16 connections: raw HTTP ${r.raw_call_16.calls_per_s.toFixed(0)} calls/s = ` +
    `${(100 * r.raw_call_16.calls_per_s / r.libpq_execute_query_16.calls_per_s).toFixed(0)}% of libpq execute_query, ` +
    `${(100 * r.raw_call_16.calls_per_s / r.libpq_select1_16.calls_per_s).toFixed(0)}% of libpq SELECT 1`);
  console.log(`  SDK client: p50 ${r.sdk_1.p50_ms.toFixed(3)} ms at 1 client, ${r.sdk_8.calls_per_s.toFixed(0)} calls/s at 8 ` +
    `(the client library's own cost is the gap to raw HTTP: ${(r.sdk_1.p50_ms - raw1.p50_ms).toFixed(3)} ms)`);

  report('tools/call SELECT 1, raw HTTP, p50 (ms)', raw1.p50_ms, 'ms', 'libpq SELECT 1 p50', lib1.p50_ms, '<= 0.6 ms');
  report('tools/call SELECT 1, raw HTTP, p50 above libpq execute_query (ms)', raw1.p50_ms - fn1.p50_ms, 'ms',
    'libpq execute_query p50', fn1.p50_ms, '-');
  report('raw HTTP ping p50 (ms)', r.raw_ping_1.p50_ms, 'ms', 'libpq SELECT 1 p50', lib1.p50_ms, '-');
  report('tools/call, raw HTTP, 16 connections (calls/s)', r.raw_call_16.calls_per_s, 'calls/s',
    'libpq SELECT 1, 16 conns', r.libpq_select1_16.calls_per_s, '>= 8000');
  report('tools/call, raw HTTP, 16 connections vs libpq execute_query (calls/s)', r.raw_call_16.calls_per_s, 'calls/s',
    'libpq execute_query, 16 conns', r.libpq_execute_query_16.calls_per_s, '-');
  report('tools/call, SDK client, 1 client, p50 (ms)', r.sdk_1.p50_ms, 'ms', 'raw HTTP tools/call p50', raw1.p50_ms, '-');
  console.log(`  SDK client at 8 clients: mcp-bridge over HTTP ${r.sdk_8.calls_per_s.toFixed(0)} calls/s = ` +
    `${(r.sdk_8.calls_per_s / r.http_peer_8.calls_per_s).toFixed(1)}x the peer over HTTP (${r.http_peer_8.calls_per_s.toFixed(0)}), ` +
    `${(r.sdk_8.calls_per_s / r.stdio_peer_8.calls_per_s).toFixed(1)}x the peer over stdio (${r.stdio_peer_8.calls_per_s.toFixed(0)}); ` +
    `mcp-bridge --stdio ${r.stdio_ours_8.calls_per_s.toFixed(0)} = ${(r.stdio_ours_8.calls_per_s / r.stdio_peer_8.calls_per_s).toFixed(1)}x; ` +
    `p50 at 1 client: ours ${r.sdk_1.p50_ms.toFixed(3)} ms (stdio ${r.stdio_ours_1.p50_ms.toFixed(3)}), peer ${r.stdio_peer_1.p50_ms.toFixed(3)} ms`);
  report('tools/call, SDK client over HTTP, 8 clients (calls/s)', r.sdk_8.calls_per_s, 'calls/s', 'peer over HTTP (supergateway), 8 clients', r.http_peer_8.calls_per_s, '>= 4x peer');
  report('tools/call, SDK client over HTTP, 1 client, p50 (ms)', r.sdk_1.p50_ms, 'ms', 'peer over HTTP (supergateway) p50', r.http_peer_1.p50_ms, '-');
  report('tools/call, SDK client over stdio, 8 clients (calls/s)', r.stdio_ours_8.calls_per_s, 'calls/s', 'peer (server-postgres, stdio), 8 clients', r.stdio_peer_8.calls_per_s, '-');
  report('tools/call, SDK client, 1 client, p50 vs peer (ms)', r.sdk_1.p50_ms, 'ms', 'peer (server-postgres, stdio) p50', r.stdio_peer_1.p50_ms, '-');
  for (const era of ['2025-11-25', '2026-07-28']) {
    show(`fetch_${era}`, `tools/call via fetch, ${era === '2026-07-28' ? 'stateless 2026-07-28' : '2025-11-25 session'}`,
      await retryOnceIfFetchFailed(() => measureFetchEra(1, datasetId, era)));
  }
  const stateless = r['fetch_2026-07-28'];
  const sessionCall = r['fetch_2025-11-25'];
  console.log(`  2026-07-28 stateless p50 ${stateless.p50_ms.toFixed(3)} ms beside 2025-11-25 session p50 ` +
    `${sessionCall.p50_ms.toFixed(3)} ms (${(stateless.p50_ms / sessionCall.p50_ms).toFixed(2)}x)`);
  report('tools/call, 2026-07-28 stateless, fetch, p50 (ms)', stateless.p50_ms, 'ms',
    '2025-11-25 session, fetch, p50', sessionCall.p50_ms, '-');
  console.log('json: ' + JSON.stringify(r));
})().catch((error) => {
  console.error('bridge_bench:', error.message);
  process.exit(1);
});
