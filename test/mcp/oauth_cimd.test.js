// OAuth Client ID Metadata Documents: the official SDK signs in with a client_id that is the
// https URL of its metadata document (served here by a small HTTPS server with a throwaway
// CA), which the extension fetches, checks and keeps; headless Chromium signs in and
// consents, and the tools are called as the person. Then the refusals, each a clear error
// with nothing stored: a document for another client_id, a redirect URI it does not list,
// too large, not JSON, too slow, unreachable, redirected, on a private address without the
// setting, with a secret or a confidential auth method, and a client an admin disabled.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { UnauthorizedError } = require('@modelcontextprotocol/sdk/client/auth.js');
const { env, psql, psqlLog, startBridge, waitFor } = require('./harness.js');
const { freePort, MemoryProvider, launchChromium } = require('./oauth_support.js');

const CALLBACK = 'http://127.0.0.1:7/oauth/callback';  // never listened on: the browser's visit is intercepted
const LOGIN = 'cimd.tester@example.com';
const PASSWORD = 'cimd tester password';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';


// A CA and a certificate for 127.0.0.1 it signed, readable by the database server's user.
function makeCertificates(dir) {
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  fs.writeFileSync(path.join(dir, 'server.ext'),
                   'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2',
       '-subj', '/CN=mcp_analytics test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
       '-addext', 'keyUsage=critical,keyCertSign']);
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
       '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o644);
  return { ca: path.join(dir, 'ca.pem'), key: fs.readFileSync(path.join(dir, 'server.key')),
           cert: fs.readFileSync(path.join(dir, 'server.pem')) };
}

let bridge;
let browser;
let profile;
let certDir;
let documents;       // the HTTPS server of the metadata documents
let base;            // its origin
const hits = {};     // path -> how often it was fetched
const held = [];     // responses of /slow.json, never answered

function documentFor(url, extra = {}) {
  return { client_id: url, client_name: 'CIMD test client', redirect_uris: [CALLBACK],
           grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
           token_endpoint_auth_method: 'none', ...extra };
}

function serve(request, response) {
  const url = base + request.url;
  const name = request.url.split('?')[0];
  hits[name] = (hits[name] || 0) + 1;
  const json = (body, headers = {}) => {
    response.writeHead(200, { 'Content-Type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
  switch (name) {
    case '/good.json': return json(documentFor(url), { 'Cache-Control': 'public, max-age=300' });
    case '/disabled.json': return json(documentFor(url, { client_name: 'Soon disabled' }));
    case '/mismatch.json': return json(documentFor(base + '/good.json'));
    case '/unlisted.json': return json(documentFor(url, { redirect_uris: ['https://elsewhere.example/callback'] }));
    case '/large.json': return json(documentFor(url, { client_uri: 'https://example.com/' + 'x'.repeat(6000) }));
    case '/secret.json': return json(documentFor(url, { client_secret: 'published-secret' }));
    case '/confidential.json': return json(documentFor(url, { token_endpoint_auth_method: 'client_secret_basic' }));
    case '/not-json.json':
      response.writeHead(200, { 'Content-Type': 'text/html' });
      return response.end('<html><body>{"client_id": "not really"}</body></html>');
    case '/redirect.json':
      response.writeHead(302, { Location: base + '/good.json' });
      return response.end();
    case '/slow.json': held.push(response); return undefined;
    default:
      response.writeHead(404, { 'Content-Type': 'application/json' });
      return response.end('{}');
  }
}

before(async () => {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-cimd-'));
  fs.chmodSync(certDir, 0o755);
  const tls = makeCertificates(certDir);
  documents = https.createServer({ key: tls.key, cert: tls.cert }, serve);
  await new Promise((resolve) => documents.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${documents.address().port}`;
  const port = await freePort();
  bridge = await startBridge({ args: ['--listen', `127.0.0.1:${port}`, '--public-url', `http://127.0.0.1:${port}`] });
  psql(`SELECT mcp.set_setting('auth.password_cost', '10');
        SELECT mcp.set_setting('oauth.client_metadata_ca_file', to_jsonb(:'ca'::text));
        SELECT mcp.create_user(:'login', 'CIMD Tester', 'reader', :'password');
        SELECT mcp.grant_dataset(:'ds'::integer, to_user => :'login');`,
       { login: LOGIN, password: PASSWORD, ds: env.datasetId, ca: tls.ca });
  ({ browser, profile } = await launchChromium('mcp-cimd-chromium-'));
});

after(async () => {
  for (const response of held) response.destroy();
  if (browser) await browser.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (bridge) await bridge.stop();
  if (documents) await new Promise((resolve) => { documents.closeAllConnections?.(); documents.close(resolve); });
  psql(`SELECT mcp.reset_setting(k) FROM unnest(ARRAY['oauth.client_metadata_ca_file', 'oauth.client_metadata_allow_private']) k;
        DELETE FROM mcp.oauth_clients WHERE registration = 'metadata_document';
        DELETE FROM mcp.users WHERE login = :'login';`, { login: LOGIN });
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});


async function signInAndConsent(authorizationUrl, inspect) {
  const page = await browser.newPage();
  page.setDefaultTimeout(15000);
  let landed = null;
  await page.route('http://127.0.0.1:7/**', (route) => {
    landed = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'done' });
  });
  await page.goto(authorizationUrl.toString());
  assert.equal(await page.textContent('#client-host'), new URL(base).host, 'the sign-in page names the host of the document');
  await page.fill('#login', LOGIN);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForLoadState(), page.click('form[action="/authorize"] button[type=submit]')]);
  if (inspect) await inspect(page);
  await page.click('button[name=decision][value=allow]');
  await waitFor(() => landed, { what: 'the redirect to the client' });
  await page.close();
  return new URL(landed);
}

async function connect(provider) {
  const transport = new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider });
  const client = new Client({ name: 'cimd-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport };
}

// GET /authorize for client_id, as a browser would: the answer's status and text.
async function authorize(clientId, redirectUri = CALLBACK) {
  const url = new URL(bridge.url + '/authorize');
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri,
                                        code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 's1' })) {
    url.searchParams.set(k, v);
  }
  const response = await fetch(url, { redirect: 'manual' });
  return { status: response.status, text: await response.text(), location: response.headers.get('location') };
}

const stored = (url) => Number(psql(`SELECT count(*) FROM mcp.oauth_clients WHERE client_id = :'url'`, { url }));

test('the authorization server advertises client metadata documents, and refuses private addresses by default', async () => {
  const as = await (await fetch(bridge.url + '/.well-known/oauth-authorization-server')).json();
  assert.equal(as.client_id_metadata_document_supported, true);
  assert.ok(as.registration_endpoint, 'dynamic registration stays offered');
  const url = base + '/good.json';
  const refused = await authorize(url);
  assert.equal(refused.status, 400);
  assert.match(refused.text, /not on a public address/, 'a document on the loopback interface is refused without the setting');
  assert.equal(hits['/good.json'] ?? 0, 0, 'and not even fetched');
  assert.equal(stored(url), 0, 'nothing is stored');
  psql(`SELECT mcp.set_setting('oauth.client_metadata_allow_private', 'true')`);
});

test('the SDK signs in with its metadata document URL as client_id and calls tools as the person', async () => {
  const url = base + '/good.json';
  const provider = new MemoryProvider('CIMD test client', CALLBACK, url);
  await assert.rejects(connect(provider), UnauthorizedError, 'the first connection asks for sign-in');
  assert.equal(provider.saved.client.client_id, url, 'the SDK uses the URL as client_id, without registering');
  assert.equal(provider.authorizationUrl.searchParams.get('client_id'), url);

  const landed = await signInAndConsent(provider.authorizationUrl, async (page) => {
    assert.match(await page.textContent('h1'), /CIMD test client/, 'the consent page names the client from its document');
    assert.equal(await page.textContent('#client-host'), new URL(base).host, 'and the host it really comes from');
  });
  const code = landed.searchParams.get('code');
  assert.match(code, /^mcpac_[0-9a-f]{64}$/);
  await new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider }).finishAuth(code);
  assert.ok(provider.saved.tokens.access_token.startsWith('mcpat_'), 'the token endpoint accepts the URL client (public, no secret)');

  const { client } = await connect(provider);
  const tools = await client.listTools();
  assert.ok(tools.tools.some((tool) => tool.name === 'execute_query'));
  const counted = await client.callTool({ name: 'execute_query', arguments: { dataset_id: env.datasetId, sql: 'SELECT count(*) AS n FROM panelists' } });
  assert.equal(counted.isError, false, JSON.stringify(counted));
  await client.close();

  assert.equal(hits['/good.json'], 1, 'the document was fetched once for /authorize and /token: every bridge reads the stored copy');
  const row = JSON.parse(psql(`SELECT row_to_json(c) FROM mcp.oauth_clients() c WHERE c.client_id = :'url'`, { url }));
  assert.equal(row.registration, 'metadata_document', 'mcp.oauth_clients lists it with its kind');
  assert.equal(row.client_name, 'CIMD test client');
  assert.equal(row.confidential, false);
  assert.equal(Number(psql(`SELECT extract(epoch FROM document_expires_at - document_fetched_at)::integer FROM mcp.oauth_clients WHERE client_id = :'url'`, { url })),
               300, 'kept for the max-age of its Cache-Control');
  const logged = psqlLog(`SELECT count(*) FROM mcp.query_logs l JOIN mcp.oauth_clients c ON c.id = l.oauth_client_id
                        WHERE c.client_id = :'url' AND l.success`, { url });
  assert.ok(Number(logged) >= 1, 'the query log names the client');
});

test('refusals: each a clear error, and nothing stored', async () => {
  const closedPort = await freePort();
  const cases = [
    ['/mismatch.json', /its client_id is not exactly the URL it was fetched from/],
    ['/large.json', /larger than 5120 bytes/],
    ['/not-json.json', /not JSON \(Content-Type text\/html\)/],
    ['/secret.json', /contains a client secret/],
    ['/confidential.json', /token_endpoint_auth_method client_secret_basic is not offered/],
    ['/redirect.json', /answered HTTP 302, not 200/],
    ['/missing.json', /answered HTTP 404, not 200/],
  ];
  for (const [name, message] of cases) {
    const url = base + name;
    const answer = await authorize(url);
    assert.equal(answer.status, 400, name);
    assert.match(answer.text, message, name);
    assert.equal(stored(url), 0, `${name}: nothing stored`);
  }
  assert.equal(hits['/good.json'], 1, 'the redirect was not followed');

  const unlisted = await authorize(base + '/unlisted.json');
  assert.equal(unlisted.status, 400);
  assert.match(unlisted.text, /redirect address this request names is not one/, 'a redirect URI the document does not list is refused');
  assert.equal(unlisted.location, null, 'and never redirected to');

  const unreachable = `https://127.0.0.1:${closedPort}/client.json`;
  assert.match((await authorize(unreachable)).text, /could not be fetched/, 'an unreachable document');
  assert.equal(stored(unreachable), 0);

  const started = Date.now();
  const slow = await authorize(base + '/slow.json');
  assert.match(slow.text, /did not arrive within 5 s/, 'a document that does not come in time');
  assert.ok(Date.now() - started < 15000, 'is given up on');
  assert.equal(stored(base + '/slow.json'), 0);

  for (const [bad, message] of [
    [`http://127.0.0.1:${closedPort}/client.json`, /must use https/],
    [`${base}/`, /must have a path/],
    [`${base}/a/../good.json`, /must not contain \. or \.\. path segments/],
    [`https://user:pw@127.0.0.1:${closedPort}/client.json`, /must not contain a user name or password/],
  ]) {
    assert.match((await authorize(bad)).text, message, bad);
  }

  const token = await fetch(bridge.url + '/token', {
    method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'mcpac_x', client_id: base + '/secret.json',
                                redirect_uri: CALLBACK, code_verifier: 'x'.repeat(43) }),
  });
  assert.equal(token.status, 401);
  assert.equal((await token.json()).error, 'invalid_client', 'the token endpoint refuses such a client too');
  assert.ok(Number(psql(`SELECT count(*) FROM mcp.auth_events WHERE event = 'authorize_refused' AND detail LIKE 'client metadata document %'`)) >= 10,
            'every refusal is recorded in mcp.auth_events');
});

test('an admin disables a metadata document client: refused at once, and never fetched again', async () => {
  const url = base + '/disabled.json';
  const first = await authorize(url);
  assert.equal(first.status, 200, 'a valid document leads to the sign-in page');
  assert.match(first.text, /Soon disabled/);
  assert.equal(psql(`SELECT mcp.disable_oauth_client(:'url')`, { url }), 't');
  const refused = await authorize(url);
  assert.equal(refused.status, 400);
  assert.match(refused.text, /cannot be used: the client is disabled/);
  psql(`UPDATE mcp.oauth_clients SET document_expires_at = now() - interval '1 hour' WHERE client_id = :'url'`, { url });
  const fetched = hits['/disabled.json'];
  assert.equal((await authorize(url)).status, 400, 'its copy expired, it stays disabled');
  assert.equal(hits['/disabled.json'], fetched, 'and its document is not fetched again');
  assert.equal(psql(`SELECT disabled FROM mcp.oauth_clients() WHERE client_id = :'url'`, { url }), 't');
});
