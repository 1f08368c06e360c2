// The REST API under /api (the seed's routes), its OpenAPI document, /metrics and the request
// log, through the bridge that run.sh started.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { env, api } = require('./harness.js');

test('the OpenAPI document describes every route and needs no key', async () => {
  const reply = await api(env.url, '/api/openapi.json', { key: null });
  assert.equal(reply.status, 200);
  assert.equal(reply.json.openapi, '3.1.0');
  for (const path of ['/api/datasets', '/api/datasets/{id}', '/api/datasets/{id}/approve',
    '/api/datasets/{id}/metadata', '/api/logs']) {
    assert.ok(reply.json.paths[path], path);
  }
  assert.ok(reply.json.paths['/api/datasets'].post && reply.json.paths['/api/datasets/{id}/metadata'].patch);
});

test('every other route needs a key', async () => {
  for (const path of ['/api/datasets', `/api/datasets/${env.datasetId}`, '/api/logs']) {
    const reply = await api(env.url, path, { key: null });
    assert.equal(reply.status, 401, path);
    assert.match(reply.headers.get('www-authenticate'), /^Bearer/);
  }
});

test('GET /api/datasets lists, filters by status and pages', async () => {
  let reply = await api(env.url, '/api/datasets', { key: env.readerKey });
  assert.equal(reply.status, 200);
  const demo = reply.json.find((d) => d.id === env.datasetId);
  assert.equal(demo.name, 'demo_panel');
  assert.doesNotMatch(JSON.stringify(reply.json), /password/i, 'connections are masked');
  reply = await api(env.url, '/api/datasets?status=approved', { key: env.readerKey });
  assert.ok(reply.json.length >= 1 && reply.json.every((d) => d.status === 'approved'));
  reply = await api(env.url, '/api/datasets?skip=0&limit=1', { key: env.readerKey });
  assert.equal(reply.json.length, 1);
  reply = await api(env.url, '/api/datasets?status=published', { key: env.readerKey });
  assert.equal(reply.status, 400);
  assert.match(reply.json.hint, /Statuses/);
  reply = await api(env.url, '/api/datasets?limit=lots', { key: env.readerKey });
  assert.equal(reply.status, 400);
});

test('GET /api/datasets/{id}: found, missing, malformed', async () => {
  let reply = await api(env.url, `/api/datasets/${env.datasetId}`, { key: env.readerKey });
  assert.equal(reply.status, 200);
  assert.equal(reply.json.id, env.datasetId);
  reply = await api(env.url, '/api/datasets/999999', { key: env.readerKey });
  assert.equal(reply.status, 404);
  assert.equal(reply.json.sqlstate, 'P0002');
  reply = await api(env.url, '/api/datasets/abc', { key: env.readerKey });
  assert.equal(reply.status, 404);
});

test('POST /api/datasets: admins only, validated, errors without the password', async () => {
  const password = /password=(\S+)/.exec(process.env.MCP_DEMO_CONNINFO)[1];
  let reply = await api(env.url, '/api/datasets', { method: 'POST', key: env.readerKey, body: { name: 'x', connection_string: 'host=x' } });
  assert.equal(reply.status, 403);
  reply = await api(env.url, '/api/datasets', { method: 'POST', body: '[1]' });
  assert.equal(reply.status, 400);
  reply = await api(env.url, '/api/datasets', { method: 'POST', body: 'name=x', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  assert.equal(reply.status, 415);
  reply = await api(env.url, '/api/datasets', { method: 'POST', body: { name: 'demo_panel', connection_string: process.env.MCP_DEMO_CONNINFO } });
  assert.equal(reply.status, 409, 'the name is taken');
  const wrong = process.env.MCP_DEMO_CONNINFO.replace(password, password + 'wrong');
  reply = await api(env.url, '/api/datasets', { method: 'POST', body: { name: 'wrong_password', connection_string: wrong } });
  assert.equal(reply.status, 400);
  assert.equal(reply.json.sqlstate, '28P01');
  assert.ok(!reply.text.includes(password), 'the password is not echoed');
});

test('PATCH approve refuses a dataset that is not awaiting approval', async () => {
  const reply = await api(env.url, `/api/datasets/${env.datasetId}/approve`, { method: 'PATCH' });
  assert.equal(reply.status, 409, reply.text);
});

test('GET and PATCH metadata', async () => {
  let reply = await api(env.url, `/api/datasets/${env.datasetId}/metadata`, { key: env.readerKey });
  assert.equal(reply.status, 200, reply.text);
  assert.equal(typeof reply.json, 'object');
  reply = await api(env.url, `/api/datasets/${env.datasetId}/metadata`, { method: 'PATCH', body: { colour: 'red' } });
  assert.equal(reply.status, 400);
  reply = await api(env.url, `/api/datasets/${env.datasetId}/metadata`, { method: 'PATCH', body: { user_notes: 'checked by the REST test' } });
  assert.equal(reply.status, 200, reply.text);
  assert.match(JSON.stringify(reply.json), /checked by the REST test/);
  reply = await api(env.url, `/api/datasets/${env.datasetId}/metadata`, { method: 'PATCH', key: env.readerKey, body: { user_notes: 'x' } });
  assert.equal(reply.status, 403);
});

test('GET /api/logs filters', async () => {
  let reply = await api(env.url, '/api/logs?success=false&since=24h&limit=50', { key: env.readerKey });
  assert.equal(reply.status, 200, reply.text);
  assert.ok(reply.json.items.every((row) => row.success === false));
  reply = await api(env.url, `/api/logs?dataset_id=${env.datasetId}&tool=execute_query&limit=2`, { key: env.readerKey });
  assert.ok(reply.json.items.length <= 2);
  assert.ok(reply.json.items.every((row) => row.datasets_used.includes(env.datasetId)));
  reply = await api(env.url, '/api/logs?colour=red', { key: env.readerKey });
  assert.equal(reply.status, 400);
  assert.match(reply.json.error, /unknown filter/);
});

test('/metrics speaks Prometheus text: requests, tool calls, latency, pool use', async () => {
  const reply = await fetch(env.url + '/metrics');
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await reply.text();
  assert.match(text, /^mcp_bridge_http_requests_total\{route="\/mcp",method="POST",status="200"\} \d+$/m);
  assert.match(text, /^mcp_bridge_tool_calls_total\{tool="execute_query",outcome="ok"\} \d+$/m);
  assert.match(text, /^mcp_bridge_http_request_duration_seconds_bucket\{route="\/mcp",le="\+Inf"\} \d+$/m);
  assert.match(text, /^mcp_bridge_db_pool_size \d+$/m);
  assert.match(text, /^mcp_bridge_listening 1$/m);
});

test('one JSON line per request on stderr, without keys, bodies or passwords', () => {
  const log = fs.readFileSync(process.env.MCP_TEST_BRIDGE_LOG, 'utf8');
  const lines = log.trim().split('\n');
  assert.ok(lines.length > 20);
  for (const line of lines) JSON.parse(line);
  const password = /password=(\S+)/.exec(process.env.MCP_DEMO_CONNINFO)[1];
  for (const secret of [env.adminKey, env.readerKey, password, 'SELECT']) {
    assert.ok(!log.includes(secret), `the log does not contain ${secret.slice(0, 8)}…`);
  }
  const call = lines.map((l) => JSON.parse(l)).find((r) => r.tool === 'execute_query');
  assert.equal(call.rpc, 'tools/call');
  assert.ok(call.api_key_id > 0);
  assert.equal(call.route, '/mcp');
});
