// Sign-in through an upstream OpenID Connect provider (as with Microsoft Entra ID), played by
// npm's oidc-provider started here: the SDK's OAuth client connects, Chromium clicks "Sign in
// with ...", signs in at the provider and consents there and on our consent page; the person
// is made from the ID token (e-mail, name, groups), joins the local group named like their
// upstream group, and sees the dataset granted to that group. A domain that is not allowed is
// refused.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = require('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { UnauthorizedError } = require('@modelcontextprotocol/sdk/client/auth.js');
const { env, psql, startBridge, waitFor } = require('./harness.js');
const { freePort, MemoryProvider, launchChromium } = require('./oauth_support.js');

const CALLBACK = 'http://127.0.0.1:7/oauth/callback';



let bridge;
let idp;
let browser;
let profile;

before(async () => {
  const bridgePort = await freePort();
  bridge = await startBridge({ args: ['--listen', `127.0.0.1:${bridgePort}`, '--public-url', `http://127.0.0.1:${bridgePort}`] });
  const idpPort = await freePort();
  const issuer = `http://127.0.0.1:${idpPort}`;
  // An ES module: import() does not search NODE_PATH, so it gets the installed file.
  const { default: Provider } = await import(pathToFileURL(path.join(process.env.NODE_PATH, 'oidc-provider', 'lib', 'index.js')).href);
  const provider = new Provider(issuer, {
    clients: [{ client_id: 'mcp-analytics', client_secret: 'idp-client-secret', redirect_uris: [bridge.url + '/oidc/callback'],
                grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_post' }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    conformIdTokenClaims: false,  // e-mail, name and groups in the ID token itself, as Entra ID does
    findAccount: async (ctx, id) => ({
      accountId: id,
      claims: async () => ({ sub: id, email: id, email_verified: true, name: `Upstream ${id.split('@')[0]}`, groups: ['idp-analysts'] }),
    }),
  });
  idp = await new Promise((resolve) => { const server = provider.listen(idpPort, '127.0.0.1', () => resolve(server)); });
  psql(`SELECT mcp.set_setting('oidc.issuer', to_jsonb(:'issuer'::text));
        SELECT mcp.set_setting('oidc.client_id', '"mcp-analytics"');
        SELECT mcp.set_setting('oidc.provider_name', '"Test IdP"');
        SELECT mcp.set_setting('oidc.allowed_domains', '["example.org"]');
        SELECT mcp.set_setting('oidc.group_roles', '{"idp-admins": "admin"}');
        SELECT mcp.set_oidc_client_secret('idp-client-secret');
        INSERT INTO mcp.user_groups (name) VALUES ('idp-analysts');
        SELECT mcp.grant_dataset(:'ds'::integer, to_group => 'idp-analysts');`, { issuer, ds: env.datasetId });
  ({ browser, profile } = await launchChromium('mcp-oidc-chromium-'));
});

after(async () => {
  if (browser) await browser.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (bridge) await bridge.stop();
  if (idp) await new Promise((resolve) => idp.close(resolve));
  psql(`SELECT mcp.reset_setting(k) FROM unnest(ARRAY['oidc.issuer', 'oidc.client_id', 'oidc.provider_name',
                                                     'oidc.allowed_domains', 'oidc.group_roles']) k;
        SELECT mcp.set_oidc_client_secret(NULL);
        DELETE FROM mcp.user_groups WHERE name = 'idp-analysts';`);
});

// From our sign-in page through the provider's login and consent; resolves with our page.
async function upstreamSignIn(authorizationUrl, login) {
  await browser.clearCookies();  // no provider session left from an earlier sign-in
  const page = await browser.newPage();
  page.setDefaultTimeout(20000);
  await page.goto(authorizationUrl.toString());
  assert.match(await page.textContent('#upstream-sign-in'), /Sign in with Test IdP/);
  await Promise.all([page.waitForURL((u) => !u.toString().startsWith(bridge.url)), page.click('#upstream-sign-in')]);
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'anything');
  await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
  if (!page.url().startsWith(bridge.url)) {
    // The provider's own consent step.
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(bridge.url)), page.click('button[type=submit]')]);
  }
  await page.waitForLoadState();
  return page;
}

test('a person signs in through the upstream provider and gets what their upstream group was granted', async () => {
  const provider = new MemoryProvider('OIDC test client', CALLBACK);
  const connect = async () => {
    const transport = new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider });
    const client = new Client({ name: 'oidc-test', version: '1.0.0' });
    await client.connect(transport);
    return client;
  };
  await assert.rejects(connect(), UnauthorizedError);
  const page = await upstreamSignIn(provider.authorizationUrl, 'ida@example.org');
  assert.match(await page.textContent('main'), /Signed in as\s+Upstream ida/, 'our consent page names the upstream person');
  assert.match(await page.textContent('#consent-datasets'), /demo_panel/, 'and the dataset their group was granted');
  let landed = null;
  await page.route('http://127.0.0.1:7/**', (route) => {
    landed = route.request().url();
    return route.fulfill({ status: 200, contentType: 'text/plain', body: 'done' });
  });
  await page.click('button[name=decision][value=allow]');
  await waitFor(() => landed, { what: 'the redirect to the client' });
  await page.close();
  const code = new URL(landed).searchParams.get('code');
  await new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider }).finishAuth(code);
  const client = await connect();
  const listed = await client.callTool({ name: 'list_datasets', arguments: {} });
  assert.deepEqual(listed.structuredContent.datasets.map((d) => d.name), ['demo_panel']);
  await client.close();
  assert.equal(psql(`SELECT role || ' ' || display_name || ' ' || array_to_string(groups, ',') || ' ' || has_password
                       FROM mcp.users() WHERE login = 'ida@example.org'`),
               'reader Upstream ida idp-analysts false', 'the person was made from the ID token, without a password');
  assert.ok(Number(psql(`SELECT count(*) FROM mcp.auth_events WHERE event = 'upstream_sign_in' AND login = 'ida@example.org'`)) >= 1);
});

test('a domain that is not allowed is refused, with a row in mcp.auth_events', async () => {
  const provider = new MemoryProvider('OIDC test client', CALLBACK);
  const transport = new StreamableHTTPClientTransport(new URL(bridge.url + '/mcp'), { authProvider: provider });
  await assert.rejects(new Client({ name: 'oidc-test', version: '1.0.0' }).connect(transport), UnauthorizedError);
  const page = await upstreamSignIn(provider.authorizationUrl, 'eve@elsewhere.test');
  assert.match(await page.textContent('#oauth-error'), /the domain elsewhere\.test may not sign in here/);
  await page.close();
  assert.equal(psql(`SELECT count(*) FROM mcp.users WHERE login = 'eve@elsewhere.test'`), '0', 'no person was made');
  assert.ok(Number(psql(`SELECT count(*) FROM mcp.auth_events WHERE event = 'upstream_sign_in_refused' AND login = 'eve@elsewhere.test'`)) >= 1);
});

test('a forged or replayed answer of the provider is refused', async () => {
  const forged = await fetch(bridge.url + '/oidc/callback?state=' + 'a'.repeat(64) + '&code=x');
  assert.equal(forged.status, 400);
  assert.match(await forged.text(), /does not belong to a sign-in in progress/);
  const malformed = await fetch(bridge.url + '/oidc/callback?code=x');
  assert.equal(malformed.status, 400);
  const start = await fetch(bridge.url + '/oidc/start?request=mcpar_unknown', { redirect: 'manual' });
  assert.equal(start.status, 400, 'an unknown sign-in page cannot start an upstream sign-in');
});
