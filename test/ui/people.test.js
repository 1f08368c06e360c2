// The admin pages for people, grants and OAuth clients in a real browser (Chromium driven by
// playwright-core, against the bridge test/ui/run.sh started): an admin creates a person,
// grants them a dataset on its page, the person signs in and sees only that dataset, the
// grant is revoked and it disappears; a disabled person is refused; a locked one unlocked;
// an OAuth client pre-registered shows its secret once and is disabled; the log filters by
// person and names the OAuth client; a reader gets none of these pages; hostile input is
// shown escaped; no password ever comes back.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const crypto = require('node:crypto');
const { required, psql, openBrowser: open, closeBrowsers, shot, submit, unlabelledInputs } = require('./browser.js');

const url = required('MCP_UI_URL');
const adminKey = required('MCP_UI_ADMIN_KEY');
const demoConninfo = required('MCP_DEMO_CONNINFO');

const login = 'ui.grace@example.com';
const hostileName = 'Grace <script>window.pwned=1</script> "Hopper" & <b>co</b>';
const password = 'grace initial pass ' + crypto.randomBytes(6).toString('hex');
const newPassword = 'grace second pass ' + crypto.randomBytes(6).toString('hex');
const clientName = 'UI <img src=x> client';

// No page, fragment or URL ever carries a password typed into a form.
const openBrowser = () => open({ secrets: [{ value: password, name: 'a password' }, { value: newPassword, name: 'a password' }] });

async function signInWithKey(page, key) {
  await page.goto(url + '/ui/sign-in');
  await page.fill('#api_key', key);
  await Promise.all([page.waitForURL(/\/ui\/datasets$/), page.click('form[action="/ui/sign-in"] button[type=submit]')]);
}

async function signInAsPerson(page, secret) {
  await page.goto(url + '/ui/sign-in');
  await page.fill('#login', login);
  await page.fill('#password', secret);
  await submit(page, 'form[action="/ui/sign-in"] button[type=submit]');
}

async function datasetNames(page) {
  await page.goto(url + '/ui/datasets');
  return page.$$eval('#dataset-list a[href^="/ui/datasets/"]', (links) => links.map((a) => a.textContent.trim()));
}

let admin;
let person;
let personId;
let alpha;
let beta;

before(async () => {
  psql(`SELECT mcp.set_setting('auth.password_cost', '10'); SELECT mcp.set_setting('auth.max_failed_sign_ins', '2')`);
  // Drafts are enough: a reader sees a dataset in any state once it is granted to them.
  alpha = Number(psql(`SELECT mcp.register_dataset('ui_people_alpha', :'conn')`, { conn: demoConninfo }));
  beta = Number(psql(`SELECT mcp.register_dataset('ui_people_beta', :'conn')`, { conn: demoConninfo }));
  admin = await openBrowser();
  await signInWithKey(admin.page, adminKey);
});

after(closeBrowsers);

test('an admin creates a person; the name is shown escaped and the password never comes back', async () => {
  const { page } = admin;
  await page.click('nav a[href="/ui/people"]');
  await page.waitForURL(/\/ui\/people$/);
  await page.fill('#person-login', login);
  await page.fill('#person-name', hostileName);
  await page.selectOption('#person-role', 'reader');
  await page.fill('#person-password', password);
  await submit(page, 'form.create-person button[type=submit]');
  assert.match(page.url(), /\/ui\/people\/\d+\?notice=person_created$/);
  personId = Number(/\/ui\/people\/(\d+)/.exec(page.url())[1]);
  assert.match(await page.textContent('.notice'), /Person created/);
  assert.equal((await page.textContent('h1')).includes('<script>window.pwned=1</script>'), true, 'the name is text');
  assert.equal(await page.evaluate(() => window.pwned), undefined, 'and never ran');
  assert.equal(await page.locator('main b').count(), 0, 'no markup from the name');
  assert.equal(psql(`SELECT display_name FROM mcp.users WHERE login = :'login'`, { login }), hostileName);
  await shot(page, 'p01-person-created');

  // Refusals: a clear message, the typed values back, the password field empty.
  await page.goto(url + '/ui/people');
  await page.fill('#person-login', login);
  await page.fill('#person-name', 'Someone else');
  await page.fill('#person-password', password);
  await submit(page, 'form.create-person button[type=submit]');
  assert.match(await page.textContent('#error-box'), /already exists/);
  assert.equal(await page.inputValue('#person-login'), login);
  assert.equal(await page.inputValue('#person-name'), 'Someone else');
  assert.equal(await page.inputValue('#person-password'), '', 'the password is not put back');
  await page.fill('#person-login', 'Not A Login!');
  await page.fill('#person-name', 'Nobody');
  await submit(page, 'form.create-person button[type=submit]');
  assert.match(await page.textContent('#error-box'), /a login is 1 to 100 letters/);
  await page.fill('#person-login', 'ui.short');
  await page.fill('#person-name', 'Short Password');
  await page.evaluate(() => document.getElementById('person-password').removeAttribute('minlength'));
  await page.fill('#person-password', 'short');
  await submit(page, 'form.create-person button[type=submit]');
  assert.match(await page.textContent('#error-box'), /10 to 1024 characters/);
  // What the browser's own checks stop, the server refuses as clearly.
  const token = await page.getAttribute('form.sign-out input[name=csrf_token]', 'value');
  for (const [form, message] of [
    [{ login: 'ui.blank', display_name: '   ', role: 'reader' }, /display name has 1 to 200/],
    [{ login: 'ui.long', display_name: 'x'.repeat(5000), role: 'reader' }, /display name has 1 to 200/],
    [{ login: 'x'.repeat(300), display_name: 'Long', role: 'reader' }, /a login is 1 to 100/],
    [{ login: 'ui.owner', display_name: 'Owner', role: 'owner' }, /role must be reader or admin/],
  ]) {
    const refused = await page.request.post(url + '/ui/people', { form: { csrf_token: token, ...form } });
    assert.equal(refused.status(), 400, JSON.stringify(form).slice(0, 80));
    assert.match(await refused.text(), message);
  }
  assert.equal(psql(`SELECT count(*) FROM mcp.users WHERE login IN ('ui.short', 'ui.blank', 'ui.long', 'ui.owner')`), '0');
  await page.goto(url + '/ui/people');
  assert.match(await page.textContent('table.people'), /ui\.grace@example\.com/);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await shot(page, 'p02-people');
});

test('grants on the dataset page: the person sees only what is granted, and not after revoking', async () => {
  const { page } = admin;
  await page.goto(`${url}/ui/datasets/${alpha}`);
  assert.match(await page.textContent('#access'), /Admins \(people and API keys\) see and query every dataset/);
  assert.match(await page.textContent('#access'), /Not granted to anyone yet/);
  await page.selectOption('#grantee', `user:${login}`);
  await submit(page, '#access form.grant-form button[type=submit]');
  assert.match(await page.textContent('.notice'), /Granted/);
  assert.match(await page.textContent('#access table.grants'), /ui\.grace@example\.com/);
  assert.match(await page.textContent('#access table.grants'), /by ui test admin/, 'the grant names the admin key that made it');
  assert.equal(psql(`SELECT count(*) FROM mcp.dataset_grants() WHERE dataset_id = :'id' AND grantee = :'login'`,
                    { id: alpha, login }), '1');
  await shot(page, 'p03-dataset-granted');

  person = await openBrowser();
  await signInAsPerson(person.page, password);
  assert.match(person.page.url(), /\/ui\/datasets$/);
  assert.ok((await person.page.textContent('.who')).includes('<script>'), 'the person is greeted by name, as text');
  let names = await datasetNames(person.page);
  assert.ok(names.includes('ui_people_alpha'), 'the granted dataset is listed: ' + names);
  assert.ok(!names.includes('ui_people_beta'), 'the other is not');
  await shot(person.page, 'p04-person-sees-granted');

  // The person's page lists it; a second grant from there, then a group's.
  await page.goto(`${url}/ui/people/${personId}`);
  assert.match(await page.textContent('#datasets'), /ui_people_alpha[\s\S]*to this person/);
  await page.selectOption('#grant-dataset', String(beta));
  await submit(page, '#datasets form button:has-text("Grant")');
  assert.match(await page.textContent('#datasets table'), /ui_people_beta/);
  await page.fill('#person-group', 'ui-analysts');
  await submit(page, '#groups form button:has-text("Add to group")');
  assert.match(await page.textContent('#groups'), /ui-analysts/);
  await page.goto(`${url}/ui/datasets/${beta}`);
  await page.selectOption('#grantee', 'group:ui-analysts');
  await submit(page, '#access form.grant-form button[type=submit]');
  await page.goto(`${url}/ui/people/${personId}`);
  assert.match(await page.textContent('#datasets'), /ui_people_beta[\s\S]*through[\s\S]*ui-analysts/);
  await shot(page, 'p05-person-page');
  names = await datasetNames(person.page);
  assert.ok(names.includes('ui_people_beta'), 'granted from the person page and through a group');

  // Revoking the personal grant of alpha on its page: it disappears for the person at once.
  await page.goto(`${url}/ui/datasets/${alpha}`);
  await submit(page, `#access form[action$="/grants/revoke"]:has(input[value="user:${login}"]) button`);
  assert.match(await page.textContent('.notice'), /Grant revoked/);
  names = await datasetNames(person.page);
  assert.ok(!names.includes('ui_people_alpha'), 'revoked: gone from the list');
  assert.ok(names.includes('ui_people_beta'), 'the rest stays');
  await person.page.goto(`${url}/ui/datasets/${alpha}`);
  assert.match(await person.page.textContent('main'), /does not exist/);
  // Beta's direct grant goes from the person's page; the group's grant still shows it.
  await page.goto(`${url}/ui/people/${personId}`);
  await submit(page, `#datasets form[action$="/datasets/revoke"]:has(input[value="${beta}"]) button`);
  assert.match(await page.textContent('.notice'), /Grant revoked/);
  assert.match(await page.textContent('#datasets'), /ui_people_beta[\s\S]*through/);
  assert.deepEqual(person.problems, []);
});

test('a reader person gets no admin page, link or action', async () => {
  const { page } = person;
  await page.goto(url + '/ui/datasets');
  for (const link of ['/ui/people', '/ui/oauth-clients', '/ui/keys']) {
    assert.equal(await page.$(`nav a[href="${link}"]`), null, `no ${link} in the menu`);
  }
  for (const pagePath of ['/ui/people', `/ui/people/${personId}`, '/ui/oauth-clients']) {
    const response = await page.goto(url + pagePath);
    assert.equal(response.status(), 403, pagePath);
    assert.match(await page.textContent('h1'), /Not allowed/);
    assert.match(await page.textContent('main'), /for admins only/);
  }
  await page.goto(`${url}/ui/datasets/${beta}`);
  assert.equal(await page.$('#access'), null, 'no grants section for a reader');
  const token = await page.getAttribute('form.sign-out input[name=csrf_token]', 'value');
  const attempts = [
    ['/ui/people', { login: 'ui.sneaky', display_name: 'Sneaky', role: 'admin' }],
    [`/ui/people/${personId}/role`, { role: 'admin' }],
    [`/ui/datasets/${alpha}/grants`, { grantee: `user:${login}` }],
    ['/ui/oauth-clients', { name: 'sneaky', redirect_uris: 'https://evil.example/cb' }],
  ];
  for (const [target, form] of attempts) {
    const refused = await page.request.post(url + target, { form: { csrf_token: token, ...form } });
    assert.equal(refused.status(), 403, target);
  }
  assert.equal(psql(`SELECT count(*) FROM mcp.users WHERE login = 'ui.sneaky' OR (login = :'login' AND role = 'admin')`, { login }), '0');
  assert.equal(psql(`SELECT count(*) FROM mcp.dataset_grants() WHERE dataset_id = :'id' AND grantee = :'login'`, { id: alpha, login }), '0');
  await shot(page, 'p06-reader-refused');
});

test('a locked person is unlocked; a disabled one is refused sign-in and their session ends', async () => {
  const { page } = admin;
  const locked = await openBrowser();
  for (const wrong of ['wrong password one', 'wrong password two']) {
    await signInAsPerson(locked.page, wrong);
  }
  await signInAsPerson(locked.page, password);
  assert.match(await locked.page.textContent('#sign-in-error'), /too many failed sign-ins/i);
  await page.goto(url + '/ui/people');
  assert.match(await page.textContent('table.people'), /locked until/);
  await page.goto(`${url}/ui/people/${personId}`);
  await submit(page, 'form[action$="/unlock"] button');
  assert.match(await page.textContent('.notice'), /Unlocked/);
  await signInAsPerson(locked.page, password);
  assert.match(locked.page.url(), /\/ui\/datasets$/, 'signed in after the unlock');

  // A new password from the person's page: the old one stops working.
  await page.fill('#person-password', newPassword);
  await submit(page, 'form[action$="/password"] button:has-text("Set password")');
  assert.match(await page.textContent('.notice'), /Password set/);
  await signInAsPerson(locked.page, password);
  assert.match(await locked.page.textContent('#sign-in-error'), /login or password is wrong/);
  await signInAsPerson(person.page, newPassword);
  assert.match(person.page.url(), /\/ui\/datasets$/);

  await submit(page, 'form[action$="/disable"] button');
  assert.match(await page.textContent('.notice'), /Disabled/);
  assert.ok(await page.$('h1 .badge.key-revoked'), 'the page says disabled');
  await person.page.goto(url + '/ui/datasets');
  assert.match(person.page.url(), /\/ui\/sign-in/, 'their open session ended');
  await signInAsPerson(person.page, newPassword);
  assert.match(await person.page.textContent('#sign-in-error'), /disabled/);
  await shot(person.page, 'p07-disabled-refused');
  await submit(page, 'form[action$="/enable"] button');
  assert.match(await page.textContent('.notice'), /Enabled/);
  await signInAsPerson(person.page, newPassword);
  assert.match(person.page.url(), /\/ui\/datasets$/, 'enabled again');
});

test('an OAuth client is pre-registered with its secret shown once, then disabled', async () => {
  const { page } = admin;
  await page.click('nav a[href="/ui/oauth-clients"]');
  await page.waitForURL(/\/ui\/oauth-clients$/);
  await page.fill('#client-name', clientName);
  await page.fill('#client-uris', 'javascript:alert(1)');
  await submit(page, 'form.create-client button[type=submit]');
  assert.match(await page.textContent('#error-box'), /is not allowed/);
  assert.equal(await page.inputValue('#client-name'), clientName, 'the form keeps what was typed');
  await page.fill('#client-uris', 'https://chatgpt.com/connector_platform_oauth_redirect\nhttp://localhost:6274/oauth/callback');
  await page.check('#client-confidential');
  await submit(page, 'form.create-client button[type=submit]');
  const clientId = await page.inputValue('#new-client-id');
  const secret = await page.inputValue('#new-secret');
  assert.match(clientId, /^mcpc_[0-9a-f]{64}$/);
  assert.match(secret, /^mcpcs_[0-9a-f]{64}$/);
  assert.equal(psql(`SELECT secret_hash = sha256(convert_to(:'secret', 'UTF8')) FROM mcp.oauth_clients WHERE client_id = :'id'`,
                    { secret, id: clientId }), 't', 'only the hash is stored');
  assert.equal(psql(`SELECT array_length(redirect_uris, 1) FROM mcp.oauth_clients WHERE client_id = :'id'`, { id: clientId }), '2');
  await shot(page, 'p08-client-created');
  await page.goto(url + '/ui/oauth-clients');
  assert.ok(!(await page.content()).includes(secret), 'the secret is shown only once');
  const row = `tr[data-client-id="${clientId}"]`;
  assert.match(await page.textContent(row), /pre-registered[\s\S]*confidential/);
  assert.match(await page.textContent(row), /UI <img src=x> client/, 'the name as text');
  assert.equal(await page.locator('main img').count(), 0);

  // Tokens held by a person, as the OAuth flow leaves them; revoked from the page.
  psql(`SELECT mcp._person_principal(u.id, c.id, 'reader', ARRAY['datasets:read']) AS principal
          FROM mcp.users u, mcp.oauth_clients c WHERE u.login = :'login' AND c.client_id = :'id' \\gset
        INSERT INTO mcp.oauth_tokens (token_hash, kind, family, client_id, user_id, api_key_id, scopes, resource, expires_at)
        SELECT sha256(convert_to(:'id' || n, 'UTF8')), 'access', gen_random_uuid(), c.id, u.id, :principal,
               ARRAY['datasets:read'], 'http://127.0.0.1/mcp', now() + interval '1 hour'
          FROM mcp.users u, mcp.oauth_clients c, generate_series(1, 2) n
         WHERE u.login = :'login' AND c.client_id = :'id';`, { login, id: clientId });
  await page.goto(url + '/ui/oauth-clients');
  assert.match(await page.textContent(`${row} td:nth-child(7)`), /^\s*2\s*$/, 'two active tokens');
  await submit(page, `${row} form[action$="/revoke-tokens"] button`);
  assert.match(await page.textContent('.notice'), /Every token of the client is revoked/);
  assert.match(await page.textContent(`${row} td:nth-child(7)`), /^\s*0\s*$/);
  await submit(page, `${row} form[action$="/disable"] button`);
  assert.match(await page.textContent('.notice'), /Client disabled/);
  assert.match(await page.textContent(row), /disabled/);
  assert.equal(psql(`SELECT disabled FROM mcp.oauth_clients WHERE client_id = :'id'`, { id: clientId }), 't');
  await shot(page, 'p09-client-disabled');
  await submit(page, `${row} form[action$="/enable"] button`);
  assert.equal(psql(`SELECT disabled FROM mcp.oauth_clients WHERE client_id = :'id'`, { id: clientId }), 'f');
});

test('the query log filters by person and names the OAuth client a query came through', async () => {
  const { page } = admin;
  // Log rows as the bridge records them for a person connected through an OAuth client.
  psql(`INSERT INTO mcp.query_logs (query_text, tool_used, client_name, user_id, oauth_client_id, api_key_id)
        SELECT 'SELECT grace_through_oauth', 'chatgpt', 'openai-mcp', u.id, c.id, k.id
          FROM mcp.users u JOIN mcp.api_keys k ON k.user_id = u.id AND k.kind = 'oauth'
          JOIN mcp.oauth_clients c ON c.id = k.oauth_client_id
         WHERE u.login = :'login';
        INSERT INTO mcp.query_logs (query_text, tool_used, client_name) VALUES ('SELECT somebody_else', 'sql', 'openai-mcp');`,
       { login });
  await page.goto(`${url}/ui/logs?range=1h&client=openai-mcp`);
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 2);
  assert.ok(await page.$(`#log-people option[value="${login}"]`), 'the person filter offers the people in the log');
  await page.fill('#log-user', login);
  await page.press('#log-user', 'Enter');
  await page.waitForURL(/user=ui\.grace%40example\.com/);
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 1);
  const row = await page.textContent('table.logs tbody tr');
  assert.match(row, /grace_through_oauth/);
  assert.match(row, /ui\.grace@example\.com/);
  assert.match(row, /via UI <img src=x> client/, 'the OAuth client, as text');
  assert.equal(await page.locator('table.logs img').count(), 0);
  await shot(page, 'p10-logs-by-person');
  // From a person's page, their queries are one click away.
  await page.goto(`${url}/ui/people/${personId}`);
  await Promise.all([page.waitForURL(/\/ui\/logs\?user=/), page.click('a:has-text("This person\'s queries")')]);
  assert.match(await page.textContent('table.logs'), /grace_through_oauth/);
});

test('the new pages: labelled inputs, phone width, no inline script, no password in the bridge log', async () => {
  const { page } = admin;
  const pages = ['/ui/people', `/ui/people/${personId}`, '/ui/oauth-clients', `/ui/datasets/${alpha}`];
  for (const pagePath of pages) {
    await page.goto(url + pagePath);
    assert.deepEqual(await unlabelledInputs(page), [], `every input of ${pagePath} has a label`);
    const html = await (await page.request.get(url + pagePath)).text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `no inline script in ${pagePath}`);
    assert.doesNotMatch(html, /\sstyle=|<style/, `no inline style in ${pagePath}`);
  }
  await page.setViewportSize({ width: 375, height: 740 });
  try {
    for (const pagePath of pages) {
      await page.goto(url + pagePath);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 1, `${pagePath} fits a phone (overflow ${overflow}px)`);
    }
    await shot(page, 'p11-phone-person');
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
  assert.deepEqual(admin.problems, [], 'no console error, CSP violation or password in a page');
  assert.deepEqual(person.problems, []);
  const log = fs.readFileSync(required('MCP_UI_BRIDGE_LOG'), 'utf8');
  for (const secret of [password, newPassword]) {
    assert.ok(!log.includes(secret), 'the bridge log holds no password');
  }
  const events = psql(`SELECT string_agg(coalesce(detail, '') || login, ' ') FROM mcp.auth_events`);
  assert.ok(!events.includes(password) && !events.includes(newPassword), 'nor do the auth events');
});
