// OAuth 2.1 sign-in as hosted connectors do it: the official SDK's auth() flow (discovery,
// dynamic registration, PKCE, token, refresh) against a bridge with a public URL, headless
// Chromium filling the sign-in and consent pages, then tools listed and called as the person,
// who sees only the datasets granted to them. Then the refusals: a token for another server,
// replayed codes and refresh tokens, revoked tokens, a disabled person.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { auth, UnauthorizedError } = require('@modelcontextprotocol/sdk/client/auth.js');
const { env, psql, psqlLog, startBridge, waitFor } = require('./harness.js');
const { freePort, MemoryProvider, launchChromium } = require('./oauth_support.js');

const CALLBACK = 'http://127.0.0.1:7/oauth/callback';  // never listened on: the browser's visit is intercepted
const LOGIN = 'oauth.tester@example.com';
const PASSWORD = 'tester password 1';



let bridge;
let other;
let browser;
let profile;
let otherDataset;

before(async () => {
  const port = await freePort();
  bridge = await startBridge({ args: ['--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`] });
  const otherPort = await freePort();
  other = await startBridge({ args: ['--listen', `127.0.0.1:${otherPort}`, '--public-url', `http://127.0.0.1:${otherPort}`] });
  psql(`SELECT mcp.set_setting('auth.password_cost', '10');
        SELECT mcp.create_user(:'login', 'OAuth Tester', 'reader', :'password');
        SELECT mcp.grant_dataset(:'ds'::integer, to_user => :'login');`,
       { login: LOGIN, password: PASSWORD, ds: env.datasetId });
  // A second live dataset, granted to nobody: the person must not see it anywhere.
  otherDataset = Number(psql(`SELECT mcp.register_dataset('oauth_hidden_panel', :'conn')`, { conn: process.env.MCP_DEMO_CONNINFO }));
  psql(`SELECT mcp.set_dataset_status(:'id'::integer, s) FROM unnest(ARRAY['profiling', 'metadata_pending', 'approved']) s`,
       { id: otherDataset });
  ({ browser, profile } = await launchChromium('mcp-oauth-chromium-'));
});

after(async () => {
  if (browser) await browser.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (bridge) await bridge.stop();
  if (other) await other.stop();
  if (otherDataset) psql(`DELETE FROM mcp.datasets WHERE id = :'id'::integer`, { id: otherDataset });
});

// Signs in and consents in the browser; resolves with the URL the server redirected to.
// With `intercept` false the redirect reaches the client's own callback server.
async function signInAndConsent(authorizationUrl, { password = PASSWORD, decision = 'allow', inspect, intercept = true } = {}) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  let landed = null;
  if (intercept) {
    await page.route('http://127.0.0.1:7/**', (route) => {
      landed = route.request().url();
      return route.fulfill({ status: 200, contentType: 'text/plain', body: 'done' });
    });
  }
  await page.goto(authorizationUrl.toString());
  await page.fill('#login', LOGIN);
  await page.fill('#password', password);
  await Promise.all([page.waitForLoadState(), page.click('form[action="/authorize"] button[type=submit]')]);
  if (inspect) await inspect(page);
  if (intercept) {
    await page.click(`button[name=decision][value=${decision}]`);
    await waitFor(() => landed, { what: 'the redirect to the client' });
  } else {
    await Promise.all([page.waitForURL((u) => !u.toString().startsWith(bridge.url)), page.click(`button[name=decision][value=${decision}]`)]);
    landed = page.url();
  }
  await page.close();
  return new URL(landed);
}

async function connect(provider) {
  const transport = new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider });
  const client = new Client({ name: 'oauth-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

test('the SDK signs a person in (discovery, registration, PKCE, consent, token) and calls tools as them', async () => {
  const provider = new MemoryProvider('SDK OAuth test', CALLBACK);
  await assert.rejects(connect(provider), UnauthorizedError, 'the first connection asks for sign-in');
  assert.ok(provider.saved.client?.client_id?.startsWith('mcpc_'), 'the client registered itself (RFC 7591)');
  const authorizationUrl = provider.authorizationUrl;
  assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authorizationUrl.searchParams.get('resource'), bridge.url + '/mcp', 'the SDK asks for this server as resource');

  const landed = await signInAndConsent(authorizationUrl, {
    inspect: async (page) => {
      const scopes = await page.textContent('#consent-scopes');
      assert.match(scopes, /datasets:query/);
      assert.doesNotMatch(scopes, /admin/, 'a reader is not offered admin');
      const datasets = await page.textContent('#consent-datasets');
      assert.match(datasets, /demo_panel/, 'the consent page names the granted dataset');
      assert.doesNotMatch(datasets, /oauth_hidden_panel/, 'and not the other');
      assert.match(await page.textContent('h1'), /SDK OAuth test/, 'and the client');
    },
  });
  assert.equal(landed.searchParams.get('iss'), bridge.url, 'the authorization response carries iss (RFC 9207)');
  assert.equal(landed.searchParams.get('state'), authorizationUrl.searchParams.get('state'));
  const code = landed.searchParams.get('code');
  assert.match(code, /^mcpac_[0-9a-f]{64}$/);

  const transport = new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider });
  await transport.finishAuth(code);
  assert.ok(provider.saved.tokens.access_token.startsWith('mcpat_'));
  assert.equal(provider.saved.tokens.scope, 'datasets:read datasets:query');

  const { client } = await connect(provider);
  const tools = await client.listTools();
  assert.ok(tools.tools.some((tool) => tool.name === 'execute_query'));
  assert.ok(!JSON.stringify(tools).includes('oauth_hidden_panel'), 'tool descriptions name only granted datasets');
  const listed = await client.callTool({ name: 'list_datasets', arguments: {} });
  const names = listed.structuredContent.datasets.map((d) => d.name);
  assert.deepEqual(names, ['demo_panel'], 'list_datasets shows only the granted dataset');
  const counted = await client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT count(*) AS n FROM panelists' } });
  assert.equal(counted.isError, false, JSON.stringify(counted));
  const hidden = await client.callTool({ name: 'execute_query', arguments: { dataset_id: otherDataset, sql: 'SELECT 1 AS one' } });
  assert.equal(hidden.isError, true);
  assert.match(hidden.content[0].text, new RegExp(`dataset ${otherDataset} does not exist`), 'an ungranted dataset reads as a missing one');
  const resources = await client.listResources();
  assert.ok(!resources.resources.some((r) => r.uri.includes(`/datasets/${otherDataset}/`)), 'resources too');
  await client.close();

  const logged = psqlLog(`SELECT count(*) FROM mcp.query_logs l JOIN mcp.users u ON u.id = l.user_id
                        JOIN mcp.oauth_clients c ON c.id = l.oauth_client_id
                       WHERE u.login = :'login' AND c.client_id = :'client' AND l.success`,
                      { login: LOGIN, client: provider.saved.client.client_id });
  assert.ok(Number(logged) >= 1, 'the query log names the person and the OAuth client');
  const refused = psqlLog(`SELECT count(*) FROM mcp.query_logs l JOIN mcp.users u ON u.id = l.user_id
                        WHERE u.login = :'login' AND NOT l.success AND :'id'::integer = ANY (l.datasets_used)`,
                       { login: LOGIN, id: otherDataset });
  assert.ok(Number(refused) >= 1, 'and the refused query');

  // Refresh: auth() trades the refresh token for new tokens; the old one is spent.
  const before = provider.saved.tokens;
  assert.equal(await auth(provider, { serverUrl: bridge.url + '/mcp' }), 'AUTHORIZED');
  assert.notEqual(provider.saved.tokens.access_token, before.access_token);
  assert.notEqual(provider.saved.tokens.refresh_token, before.refresh_token, 'refresh tokens rotate');
  const replay = await fetch(bridge.url + '/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: before.refresh_token, client_id: provider.saved.client.client_id }),
  });
  assert.equal(replay.status, 400);
  assert.equal((await replay.json()).error, 'invalid_grant', 'a spent refresh token is refused');
  const afterReplay = await fetch(bridge.url + '/mcp', {
    method: 'POST',
    headers: { Authorization: `Bearer ${provider.saved.tokens.access_token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
  });
  assert.equal(afterReplay.status, 401, 'and its replay revokes the tokens issued from it');
});

test('refusals: another resource, a replayed code, revocation, a disabled person', async () => {
  const provider = new MemoryProvider('SDK OAuth test', CALLBACK);
  await assert.rejects(connect(provider), UnauthorizedError);
  const landed = await signInAndConsent(provider.authorizationUrl);
  const code = landed.searchParams.get('code');
  const exchange = {
    grant_type: 'authorization_code', code, client_id: provider.saved.client.client_id,
    redirect_uri: CALLBACK, code_verifier: provider.saved.verifier,
  };
  const wrongRedirect = await fetch(bridge.url + '/token', {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...exchange, redirect_uri: 'http://127.0.0.1:7/other' }),
  });
  assert.equal((await wrongRedirect.json()).error, 'invalid_grant', 'a mismatched redirect URI is refused');
  const replayed = await fetch(bridge.url + '/token', {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(exchange),
  });
  assert.equal((await replayed.json()).error, 'invalid_grant', 'that attempt spent the code: a code works once');

  // A fresh code, used properly.
  await assert.rejects(connect(provider), UnauthorizedError);
  const second = await signInAndConsent(provider.authorizationUrl);
  const transport = new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider });
  await transport.finishAuth(second.searchParams.get('code'));
  const token = provider.saved.tokens.access_token;
  const ping = (url) => fetch(url + '/mcp', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }),
  });
  assert.equal((await ping(bridge.url)).status, 200, 'the token works on its own server');
  const elsewhere = await ping(other.url);
  assert.equal(elsewhere.status, 401, 'a token for another resource is refused: no passthrough');
  assert.match(elsewhere.headers.get('www-authenticate'), /error="invalid_token", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
  assert.ok(Number(psql(`SELECT count(*) FROM mcp.auth_events WHERE event = 'token_refused' AND detail = 'the access token was issued for another resource'`)) >= 1,
            'with a row in mcp.auth_events');

  const revoke = await fetch(bridge.url + '/revoke', {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, client_id: provider.saved.client.client_id }),
  });
  assert.equal(revoke.status, 200);
  await waitFor(async () => (await ping(bridge.url)).status === 401, { what: 'the revoked token to be refused' });

  // Revoking the access token leaves its refresh token: the SDK quietly refreshes.
  const { client: refreshed } = await connect(provider);
  assert.notEqual(provider.saved.tokens.access_token, token, 'the client refreshed after the revocation');
  await refreshed.close();

  // A disabled person: their tokens stop at once, and sign-in is refused.
  provider.saved.tokens = undefined;
  await assert.rejects(connect(provider), UnauthorizedError);
  const third = await signInAndConsent(provider.authorizationUrl);
  const t3 = new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider });
  await t3.finishAuth(third.searchParams.get('code'));
  const live = provider.saved.tokens.access_token;
  psql(`SELECT mcp.disable_user(:'login')`, { login: LOGIN });
  try {
    await waitFor(async () => (await fetch(bridge.url + '/mcp', {
      method: 'POST',
      headers: { Authorization: `Bearer ${live}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    })).status === 401, { what: 'the disabled person\'s token to be refused' });
    const page = await browser.newPage();
    await page.goto(provider.authorizationUrl.toString());
    await page.fill('#login', LOGIN);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForLoadState(), page.click('form[action="/authorize"] button[type=submit]')]);
    assert.match(await page.textContent('#sign-in-error'), /disabled/, 'the sign-in page says the account is disabled');
    await page.close();
  } finally {
    psql(`SELECT mcp.enable_user(:'login')`, { login: LOGIN });
  }
});

test('a read-only connection asking for a query gets 403 insufficient_scope, and the SDK steps up', async () => {
  const provider = new MemoryProvider('SDK OAuth test', CALLBACK);
  await assert.rejects(connect(provider), UnauthorizedError);
  const readOnly = new URL(provider.authorizationUrl);
  readOnly.searchParams.set('scope', 'datasets:read');
  const landed = await signInAndConsent(readOnly);
  await new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider }).finishAuth(landed.searchParams.get('code'));
  assert.equal(provider.saved.tokens.scope, 'datasets:read');
  const { client, transport } = await connect(provider);
  const listed = await client.callTool({ name: 'list_datasets', arguments: {} });
  assert.equal(listed.isError, false, 'datasets:read lists datasets');

  const raw = await fetch(bridge.url + '/mcp', {
    method: 'POST',
    headers: { Authorization: `Bearer ${provider.saved.tokens.access_token}`, 'Content-Type': 'application/json',
               Accept: 'application/json, text/event-stream', 'MCP-Protocol-Version': '2025-11-25',
               ...(transport.sessionId ? { 'Mcp-Session-Id': transport.sessionId } : {}) },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call',
                           params: { name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT 1 AS one' } } }),
  });
  assert.equal(raw.status, 403);
  assert.match(raw.headers.get('www-authenticate'),
               /^Bearer error="insufficient_scope", scope="datasets:read datasets:query", resource_metadata="[^"]+"$/);
  assert.match(await raw.text(), /insufficient_scope/);

  // With a refresh token the SDK first tries a refresh, which cannot widen the scopes
  // (invalid_scope); without one it goes straight to a new authorization for the wider scope.
  provider.authorizationUrl = null;
  delete provider.saved.tokens.refresh_token;
  await assert.rejects(client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT 1 AS one' } }),
                       UnauthorizedError);
  assert.ok(provider.authorizationUrl, 'the SDK starts a new authorization');
  assert.equal(provider.authorizationUrl.searchParams.get('scope'), 'datasets:read datasets:query', 'asking for the wider scope');
  await client.close().catch(() => {});
});

test('discovery documents and malformed requests', async () => {
  const prm = await (await fetch(bridge.url + '/.well-known/oauth-protected-resource/mcp')).json();
  assert.equal(prm.resource, bridge.url + '/mcp');
  assert.deepEqual(prm.authorization_servers, [bridge.url]);
  const as = await (await fetch(bridge.url + '/.well-known/oauth-authorization-server')).json();
  assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
  assert.equal(as.authorization_response_iss_parameter_supported, true);
  const oidc = await (await fetch(bridge.url + '/.well-known/openid-configuration')).json();
  assert.equal(oidc.issuer, bridge.url);
  const unauthenticated = await fetch(bridge.url + '/mcp', { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: '{}' });
  assert.equal(unauthenticated.status, 401);
  assert.match(unauthenticated.headers.get('www-authenticate'), /^Bearer resource_metadata="[^"]+", scope="datasets:read datasets:query"$/);
  const badJson = await fetch(bridge.url + '/register', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"redirect_uris": [' });
  assert.equal(badJson.status, 400);
  assert.equal((await badJson.json()).error, 'invalid_client_metadata');
  // Unauthenticated and deep: refused at the depth limit, before a recursive parse could
  // exhaust the bridge's stack; the bridge answers on.
  const deep = await fetch(bridge.url + '/register', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: '{"redirect_uris": ' + '['.repeat(200000) + ']'.repeat(200000) + '}' });
  assert.equal(deep.status, 400);
  assert.equal((await deep.json()).error, 'invalid_client_metadata');
  assert.equal((await fetch(bridge.url + '/healthz')).status, 200, 'the bridge still answers');
  const hostile = await fetch(bridge.url + '/register', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ client_name: 'x'.repeat(100000), redirect_uris: ['javascript:alert(1)'] }) });
  assert.equal((await hostile.json()).error, 'invalid_redirect_uri');
  const notForm = await fetch(bridge.url + '/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  assert.equal(notForm.status, 400);
  const plain = await fetch(bridge.url + '/authorize?' + new URLSearchParams({ response_type: 'code', client_id: 'mcpc_unknown', redirect_uri: CALLBACK, code_challenge: 'x', code_challenge_method: 'plain' }), { redirect: 'manual' });
  assert.equal(plain.status, 400, 'an unknown client gets an error page, never a redirect');
  assert.match(await plain.text(), /not registered/);
  const notUtf8 = await fetch(bridge.url + '/authorize?client_id=%FF%FE&response_type=code', { redirect: 'manual' });
  assert.equal(notUtf8.status, 400, 'bytes that are not UTF-8 are a malformed link');
  const tokenNotUtf8 = await fetch(bridge.url + '/token', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=authorization_code&code=%FF&client_id=x' });
  assert.equal(tokenNotUtf8.status, 400);
  assert.equal((await tokenNotUtf8.json()).error, 'invalid_request');
  const huge = await fetch(bridge.url + '/token', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(5000), client_id: 'x' }) });
  assert.equal((await huge.json()).error, 'invalid_request', 'an oversized parameter is refused before the database');
  const forged = await fetch(bridge.url + '/authorize', { method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
    body: new URLSearchParams({ step: 'sign_in', request: 'mcpar_x', login: LOGIN, password: PASSWORD }) });
  assert.equal(forged.status, 403, 'a sign-in form posted from another site is refused');
  const otherMetadata = await (await fetch(other.url + '/.well-known/oauth-protected-resource')).json();
  assert.equal(otherMetadata.resource, other.url + '/mcp', 'each bridge names its own resource');
});

test('mcp-remote, the stdio proxy of desktop clients, signs in the same way', async () => {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-remote-auth-'));
  const callbackPort = await freePort();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [path.join(process.env.NODE_PATH, 'mcp-remote', 'dist', 'proxy.js'), bridge.url + '/mcp', String(callbackPort)],
    // No desktop browser here: the sign-in URL is read from its log and driven by Chromium.
    env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: 'true' },
    stderr: 'pipe',
  });
  let log = '';
  const authorizationUrl = new Promise((resolve) => {
    transport.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /Please authorize this client by visiting:\s+(\S+)/.exec(log);
      if (match) resolve(new URL(match[1]));
    });
  });
  const client = new Client({ name: 'mcp-remote-test', version: '1.0.0' });
  try {
    const connecting = client.connect(transport);
    const url = await Promise.race([authorizationUrl, new Promise((_, reject) => setTimeout(() => reject(new Error('no sign-in URL: ' + log)), 30000))]);
    assert.equal(url.origin + url.pathname, bridge.url + '/authorize');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    const landed = await signInAndConsent(url, { intercept: false });
    assert.equal(landed.port, String(callbackPort), 'the browser went back to mcp-remote');
    await connecting;
    const listed = await client.callTool({ name: 'list_datasets', arguments: {} });
    assert.deepEqual(listed.structuredContent.datasets.map((d) => d.name), ['demo_panel']);
    const counted = await client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT count(*) AS n FROM panelists' } });
    assert.equal(counted.isError, false, JSON.stringify(counted));
    const clients = psqlLog(`SELECT string_agg(DISTINCT c.client_name, ',') FROM mcp.query_logs l JOIN mcp.oauth_clients c ON c.id = l.oauth_client_id
                           JOIN mcp.users u ON u.id = l.user_id WHERE u.login = :'login'`, { login: LOGIN });
    assert.match(clients, /MCP CLI/, 'the log names mcp-remote as the OAuth client');
  } finally {
    await client.close().catch(() => {});
    fs.rmSync(configDir, { recursive: true, force: true });
  }
});
