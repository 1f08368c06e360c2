// Streamable HTTP at /mcp, probed with raw requests: versions, sessions, headers, CORS,
// authentication, and the answers to malformed, oversized, unknown and slow requests.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { env, startBridge, post, initialize, newKey, psql, waitFor } = require('./harness.js');

let bridge;  // with short limits, so that slow clients are cut off quickly
test.before(async () => {
  bridge = await startBridge({ args: ['--read-timeout', '1s', '--max-body-bytes', '65536', '--sse-heartbeat', '1s'] });
});
test.after(() => bridge.stop());

const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };

test('each supported protocol version is echoed; an unknown one gets the latest', async () => {
  for (const version of ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']) {
    const { result } = await initialize(bridge.url, { version });
    assert.equal(result.protocolVersion, version);
  }
  const { result } = await initialize(bridge.url, { version: '2030-01-01' });
  assert.equal(result.protocolVersion, '2025-11-25');
});

test('tool definitions follow the negotiated version', async () => {
  const old = await initialize(bridge.url, { version: '2024-11-05' });
  let list = await post(bridge.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { session: old.session });
  assert.ok(list.json.result.tools.every((x) => !('outputSchema' in x) && !('annotations' in x)));
  const current = await initialize(bridge.url, { version: '2025-06-18' });
  list = await post(bridge.url, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, { session: current.session, headers: { 'MCP-Protocol-Version': '2025-06-18' } });
  assert.ok(list.json.result.tools.every((x) => x.outputSchema && x.annotations));
});

test('initialize returns the session header, exposed to browsers', async () => {
  const reply = await post(bridge.url, {
    jsonrpc: '2.0', id: 'init', method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'headers', version: '1' } },
  }, { headers: { Origin: 'http://localhost:6274' } });
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('mcp-session-id'), /^[0-9a-f]{64}$/);
  assert.match(reply.headers.get('access-control-expose-headers'), /Mcp-Session-Id/);
  assert.equal(reply.headers.get('access-control-allow-origin'), 'http://localhost:6274');
  assert.equal(reply.json.id, 'init', 'the id comes back with its type');
});

test('sessions: missing is 400, unknown is 404, a ping needs none', async () => {
  let reply = await post(bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' });
  assert.equal(reply.status, 400);
  assert.equal(reply.json.error.code, -32000);
  reply = await post(bridge.url, { jsonrpc: '2.0', id: 1, method: 'tools/list' }, { session: 'f'.repeat(64) });
  assert.equal(reply.status, 404);
  assert.equal(reply.json.error.code, -32001);
  reply = await post(bridge.url, ping);
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json.result, {});
  const other = await initialize(bridge.url, { key: env.readerKey });
  reply = await post(bridge.url, ping, { session: other.session });  // admin key, reader's session
  assert.equal(reply.status, 404, 'a session belongs to the key that opened it');
});

test('MCP-Protocol-Version: supported values pass, others are 400', async () => {
  const { session } = await initialize(bridge.url);
  assert.equal((await post(bridge.url, ping, { session, headers: { 'MCP-Protocol-Version': '2025-03-26' } })).status, 200);
  const bad = await post(bridge.url, ping, { session, headers: { 'MCP-Protocol-Version': '1.0' } });
  assert.equal(bad.status, 400);
});

test('malformed JSON is 400 with -32700 and a null id', async () => {
  const { session } = await initialize(bridge.url);
  const reply = await post(bridge.url, '{"jsonrpc": "2.0", "id": 1, "method": ', { session });
  assert.equal(reply.status, 400);
  assert.deepEqual(reply.json, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
});

test('invalid requests are 400 with -32600; bad params are -32602', async () => {
  const { session } = await initialize(bridge.url);
  let reply = await post(bridge.url, { jsonrpc: '2.0', id: 5 }, { session });
  assert.equal(reply.status, 400);
  assert.equal(reply.json.error.code, -32600);
  reply = await post(bridge.url, { jsonrpc: '1.0', id: 5, method: 'ping' }, { session });
  assert.equal(reply.json.error.code, -32600);
  reply = await post(bridge.url, { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { arguments: {} } }, { session });
  assert.equal(reply.json.error.code, -32602);
  reply = await post(bridge.url, { jsonrpc: '2.0', id: 7, method: 'resources/read', params: { uri: 'mcp-analytics://nothing' } }, { session });
  assert.equal(reply.json.error.code, -32002);
  assert.deepEqual(reply.json.error.data, { uri: 'mcp-analytics://nothing' });
});

test('unknown methods are -32601', async () => {
  const { session } = await initialize(bridge.url);
  const reply = await post(bridge.url, { jsonrpc: '2.0', id: 8, method: 'tools/destroy' }, { session });
  assert.equal(reply.status, 200);
  assert.equal(reply.json.error.code, -32601);
  assert.equal(reply.json.id, 8);
});

test('notifications and responses are 202 with an empty body', async () => {
  const { session } = await initialize(bridge.url);
  let reply = await post(bridge.url, { jsonrpc: '2.0', method: 'notifications/initialized' }, { session });
  assert.equal(reply.status, 202);
  assert.equal(reply.text, '');
  reply = await post(bridge.url, { jsonrpc: '2.0', id: 99, result: {} }, { session });
  assert.equal(reply.status, 202);
  assert.equal(reply.text, '');
});

test('batches only for the versions that had them', async () => {
  const old = await initialize(bridge.url, { version: '2025-03-26' });
  const batch = [ping, { jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }];
  let reply = await post(bridge.url, batch, { session: old.session });
  assert.equal(reply.status, 200);
  assert.deepEqual(reply.json.map((r) => r.id), [1, 2]);
  const current = await initialize(bridge.url, { version: '2025-06-18' });
  reply = await post(bridge.url, batch, { session: current.session });
  assert.equal(reply.status, 400);
  assert.equal(reply.json.error.code, -32600);
});

test('Accept is read leniently: SSE only for clients that accept nothing else', async () => {
  const { session } = await initialize(bridge.url);
  let reply = await post(bridge.url, ping, { session, headers: { Accept: 'text/event-stream' } });
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type'), /^text\/event-stream/);
  assert.match(reply.text, /^event: message\ndata: \{"jsonrpc":"2.0","id":1,"result":\{\}\}\n\n$/);
  for (const accept of ['application/json', '*/*', '']) {
    reply = await post(bridge.url, ping, { session, headers: { Accept: accept } });
    assert.equal(reply.status, 200, `Accept: ${accept}`);
    assert.match(reply.headers.get('content-type'), /^application\/json/);
  }
});

test('a non-JSON Content-Type is 415', async () => {
  const reply = await post(bridge.url, JSON.stringify(ping), { headers: { 'Content-Type': 'text/plain' } });
  assert.equal(reply.status, 415);
});

test('GET opens the session stream; DELETE ends it; PUT is 405 with CORS headers', async () => {
  const { session } = await initialize(bridge.url);
  let reply = await fetch(bridge.url + '/mcp', { headers: { Authorization: `Bearer ${env.adminKey}`, Accept: 'text/event-stream' } });
  assert.equal(reply.status, 400, 'GET needs a session');
  await reply.text();
  const controller = new AbortController();
  reply = await fetch(bridge.url + '/mcp', {
    headers: { Authorization: `Bearer ${env.adminKey}`, Accept: 'text/event-stream', 'Mcp-Session-Id': session },
    signal: controller.signal,
  });
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type'), /^text\/event-stream/);
  const reader = reply.body.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  assert.equal(first, ': keepalive\n\n', 'an idle stream carries heartbeats');
  const ended = fetch(bridge.url + '/mcp', { method: 'DELETE', headers: { Authorization: `Bearer ${env.adminKey}`, 'Mcp-Session-Id': session } });
  assert.equal((await ended).status, 204);
  let done = false;
  while (!done) ({ done } = await reader.read());  // the stream ends with the session
  const put = await fetch(bridge.url + '/mcp', { method: 'PUT', headers: { Origin: 'http://localhost:3000' } });
  assert.equal(put.status, 405);
  assert.match(put.headers.get('allow'), /POST/);
  assert.match(put.headers.get('access-control-expose-headers'), /Mcp-Session-Id/);
});

test('foreign Origins are refused; preflights are answered', async () => {
  const reply = await post(bridge.url, ping, { headers: { Origin: 'https://evil.example' } });
  assert.equal(reply.status, 403);
  const preflight = await fetch(bridge.url + '/mcp', {
    method: 'OPTIONS',
    headers: { Origin: 'http://127.0.0.1:6274', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'mcp-session-id' },
  });
  assert.equal(preflight.status, 204);
  assert.match(preflight.headers.get('access-control-allow-headers'), /Mcp-Session-Id/);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://127.0.0.1:6274');
});

test('401 without a key, with a wrong key, and at once after a revocation', async () => {
  let reply = await post(bridge.url, ping, { key: null });
  assert.equal(reply.status, 401);
  assert.equal(reply.headers.get('www-authenticate'), 'Bearer realm="mcp-analytics"');
  reply = await post(bridge.url, ping, { key: 'mcp_' + '0'.repeat(64) });
  assert.equal(reply.status, 401);
  assert.match(reply.headers.get('www-authenticate'), /invalid_token/);
  assert.doesNotMatch(reply.headers.get('www-authenticate'), /resource_metadata/);
  reply = await post(bridge.url, ping, { key: null, headers: { 'X-API-Key': env.readerKey } });
  assert.equal(reply.status, 200, 'X-API-Key works too');
  assert.equal((await fetch(bridge.url + '/healthz')).status, 200, '/healthz needs no key');
  assert.equal((await fetch(bridge.url + '/.well-known/oauth-protected-resource')).status, 404, 'no OAuth discovery');
  assert.equal((await fetch(bridge.url + '/.well-known/oauth-authorization-server')).status, 404);

  const name = `revoked-at-once-${process.pid}`;
  const key = newKey(name);
  assert.equal((await post(bridge.url, ping, { key })).status, 200);  // now cached
  psql("SELECT mcp.revoke_api_key(:'name')", { name });
  await waitFor(async () => (await post(bridge.url, ping, { key })).status === 401,
    { what: 'the revocation to reach the bridge', timeout: 2000, interval: 50 });
});

test('an oversized body is 413 and the connection is closed', async () => {
  const { session } = await initialize(bridge.url);
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'execute_query', arguments: { dataset_id: 1, sql: 'SELECT ' + 'x'.repeat(100000) } } });
  const reply = await post(bridge.url, big, { session });
  assert.equal(reply.status, 413);
});

function rawExchange(port, chunks, { gapMs = 0, waitMs = 4000 } = {}) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const started = Date.now();
    socket.on('data', (d) => { received += d; });
    socket.on('close', () => resolve({ received, closedAfterMs: Date.now() - started }));
    socket.on('error', () => {});
    let i = 0;
    const sendNext = () => {
      if (i < chunks.length && !socket.destroyed) {
        socket.write(chunks[i++]);
        setTimeout(sendNext, gapMs);
      }
    };
    socket.on('connect', sendNext);
    setTimeout(() => { socket.destroy(); }, waitMs);
  });
}

test('a slow client is cut off at the read timeout, even when it trickles bytes', async () => {
  const port = Number(new URL(bridge.url).port);
  const stalled = await rawExchange(port, [`POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"jsonrpc":`]);
  assert.ok(stalled.closedAfterMs < 2500, `closed after ${stalled.closedAfterMs} ms`);
  assert.equal(stalled.received, '', 'nobody is listening for an answer');
  const request = `POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n${JSON.stringify(ping)}`;
  const trickling = await rawExchange(port, request.split(''), { gapMs: 100 });
  assert.ok(trickling.closedAfterMs < 2500, `closed after ${trickling.closedAfterMs} ms`);
  assert.doesNotMatch(trickling.received, /200 OK/);
});

test('notifications/cancelled stops a running tool call, which then gets no answer', async () => {
  const { session } = await initialize(bridge.url, { name: 'canceller' });
  const started = Date.now();
  const running = post(bridge.url, {
    jsonrpc: '2.0', id: 'slow-1', method: 'tools/call',
    params: { name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT count(*) FROM events a CROSS JOIN events b CROSS JOIN panelists c' } },
  }, { session });
  await new Promise((r) => setTimeout(r, 500));
  const cancel = await post(bridge.url, {
    jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'slow-1', reason: 'user' },
  }, { session });
  assert.equal(cancel.status, 202);
  const reply = await running;
  assert.equal(reply.status, 202, reply.text);
  assert.equal(reply.text, '', 'no JSON-RPC response for a cancelled request');
  assert.ok(Date.now() - started < 5000, 'stopped, not finished');
});
