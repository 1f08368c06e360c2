// Benchmark of mcp-bridge: tools/call execute_query('SELECT 1') through the official SDK
// client at 1 and 8 concurrent clients (each its own session), beside plain libpq round trips
// measured in the same run: SELECT 1, and SELECT mcp.execute_query(id, 'SELECT 1') (the same
// work without the bridge and MCP). Prints figures and ratios; never fails on a timing.
//
// Environment: MCP_URL (…/mcp), MCP_API_KEY, BENCH_PG_URL (libpq conninfo of the metadata
// database, as the bridge connects), PG_ROUNDTRIP_BIN, and optionally BENCH_SECONDS (5),
// BENCH_DATASET_ID (default: the first dataset list_datasets shows).
'use strict';
const { execFileSync } = require('node:child_process');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const url = need('MCP_URL');
const key = need('MCP_API_KEY');
const pgUrl = need('BENCH_PG_URL');
const roundtrip = need('PG_ROUNDTRIP_BIN');
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

async function measureBridge(clients, datasetId) {
  const sessions = await Promise.all(Array.from({ length: clients }, (_, i) => connect(`bridge-bench-${clients}-${i}`)));
  const call = (client) => client.callTool({ name: 'execute_query', arguments: { dataset_id: datasetId, sql: 'SELECT 1' } });
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

// The same call with a plain fetch client in both eras, so that the client's own cost is
// equal: a 2025-11-25 session (initialize once, then Mcp-Session-Id; the bridge looks the
// session up in the database on each call) beside 2026-07-28 (no session; version and client
// in each request's _meta).
async function measureRaw(clients, datasetId, era) {
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

function row(label, m) {
  return `${label.padEnd(44)} ${String(m.clients).padStart(7)} ${m.p50_ms.toFixed(3).padStart(9)} ${m.p95_ms.toFixed(3).padStart(9)} ${m.calls_per_s.toFixed(0).padStart(10)}`;
}

(async () => {
  const probe = await connect('bridge-bench-probe');
  let datasetId = Number(process.env.BENCH_DATASET_ID || 0);
  if (!datasetId) {
    const listed = await probe.callTool({ name: 'list_datasets', arguments: {} });
    datasetId = listed.structuredContent?.datasets?.[0]?.id;
    if (!datasetId) throw new Error('no approved dataset: approve one (make run does) or set BENCH_DATASET_ID');
  }
  const check = await probe.callTool({ name: 'execute_query', arguments: { dataset_id: datasetId, sql: 'SELECT 1' } });
  if (check.isError) throw new Error(check.content[0].text);
  await probe.close();

  console.log(`mcp-bridge benchmark: ${seconds}s per measurement, dataset ${datasetId}, ${url}`);
  console.log(`${'measurement'.padEnd(44)} ${'clients'.padStart(7)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'calls/s'.padStart(10)}`);
  const results = {};
  for (const clients of [1, 8]) {
    results[`libpq_select1_${clients}`] = measureLibpq(clients, 'SELECT 1');
    console.log(row('libpq SELECT 1', results[`libpq_select1_${clients}`]));
    results[`libpq_execute_query_${clients}`] = measureLibpq(clients, `SELECT mcp.execute_query(${datasetId}, 'SELECT 1')`);
    console.log(row("libpq SELECT mcp.execute_query(id, 'SELECT 1')", results[`libpq_execute_query_${clients}`]));
    results[`bridge_${clients}`] = await measureBridge(clients, datasetId);
    console.log(row('MCP tools/call execute_query (SDK client)', results[`bridge_${clients}`]));
    results[`raw_session_${clients}`] = await measureRaw(clients, datasetId, '2025-11-25');
    console.log(row('  same, raw fetch, 2025-11-25 session', results[`raw_session_${clients}`]));
    results[`raw_stateless_${clients}`] = await measureRaw(clients, datasetId, '2026-07-28');
    console.log(row('  same, raw fetch, 2026-07-28 stateless', results[`raw_stateless_${clients}`]));
  }
  console.log('ratios (bridge / baseline):');
  for (const clients of [1, 8]) {
    const bridge = results[`bridge_${clients}`];
    const raw = results[`libpq_select1_${clients}`];
    const fn = results[`libpq_execute_query_${clients}`];
    console.log(`  ${clients} client(s): p50 ${(bridge.p50_ms / raw.p50_ms).toFixed(1)}x libpq SELECT 1, ` +
      `${(bridge.p50_ms / fn.p50_ms).toFixed(1)}x libpq execute_query; ` +
      `bridge + MCP add ${(bridge.p50_ms - fn.p50_ms).toFixed(3)} ms per call at p50; ` +
      `throughput ${(bridge.calls_per_s / fn.calls_per_s * 100).toFixed(0)}% of libpq execute_query` +
      (bridge.errors ? `; ${bridge.errors} isError results` : ''));
  }
  for (const clients of [1, 8]) {
    const session = results[`raw_session_${clients}`];
    const stateless = results[`raw_stateless_${clients}`];
    console.log(`  ${clients} client(s): 2026-07-28 stateless p50 ${stateless.p50_ms.toFixed(3)} ms beside ` +
      `2025-11-25 session p50 ${session.p50_ms.toFixed(3)} ms (${(stateless.p50_ms / session.p50_ms * 100).toFixed(0)}%)` +
      (session.errors + stateless.errors ? `; ${session.errors + stateless.errors} failed calls` : ''));
  }
  console.log('json: ' + JSON.stringify(results));
})().catch((error) => {
  console.error('bridge_bench:', error.message);
  process.exit(1);
});
