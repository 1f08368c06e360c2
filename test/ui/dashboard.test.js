// The dashboard in a real browser: Debian's Chromium driven by playwright-core, against the
// bridge test/ui/run.sh started. One admin's journey (sign in, register the demo panel through
// the form, follow profiling, edit the description, approve, see an MCP SDK client's queries
// in the logs under its name), then what must not happen (readers changing things, forged
// forms, secrets in pages), accessibility, phone width, and the pages without JavaScript.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { sdkClient, waitFor } = require('../mcp/harness.js');
const { required, psql, openBrowser: open, closeBrowsers, shot, submit, unlabelledInputs } = require('./browser.js');

const url = required('MCP_UI_URL');
const adminKey = required('MCP_UI_ADMIN_KEY');
const readerKey = required('MCP_UI_READER_KEY');
const demoConninfo = required('MCP_DEMO_CONNINFO');
const demoPassword = /password=(\S+)/.exec(demoConninfo)[1];
const clientName = 'ui-e2e-sdk-client';

// Every page and fragment the browser receives is checked for the dataset's password.
const openBrowser = (options = {}) => open({ ...options, secrets: [{ value: demoPassword, name: 'the connection password' }] });

async function signIn(page, key) {
  await page.goto(url + '/ui/datasets');
  assert.match(page.url(), /\/ui\/sign-in\?next=/);
  await page.fill('#api_key', key);
  await Promise.all([page.waitForURL(/\/ui\/datasets$/), page.click('form[action="/ui/sign-in"] button[type=submit]')]);
}

let admin;
let datasetId;
let sessionCookie;

before(async () => {
  admin = await openBrowser();
});

after(closeBrowsers);

test('signs in with an admin API key into an HttpOnly, SameSite=Strict session cookie', async () => {
  const { page, context } = admin;
  await page.goto(url + '/ui/datasets');
  assert.match(page.url(), /\/ui\/sign-in/);
  await page.fill('#api_key', 'mcp_' + '0'.repeat(64));
  await page.click('form[action="/ui/sign-in"] button[type=submit]');
  await page.waitForSelector('#sign-in-error');
  assert.match(await page.textContent('#sign-in-error'), /unknown, revoked or expired/);
  assert.equal(await page.getAttribute('#api_key', 'aria-invalid'), 'true');
  await shot(page, '01-sign-in-refused');
  await signIn(page, adminKey);
  const cookies = await context.cookies(url + '/ui/datasets');
  const session = cookies.find((c) => c.name === 'mcp_ui_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/ui');
  assert.ok(!cookies.some((c) => c.value.includes(adminKey.slice(4))), 'no cookie holds the key');
  sessionCookie = session;
  assert.match(await page.textContent('.who'), /ui test admin/);
  await shot(page, '02-datasets-empty');
});

test('registers the demo dataset through the form, after testing the connection', async () => {
  const { page } = admin;
  await page.click('a[href="/ui/datasets/new"]');
  await page.waitForURL(/\/ui\/datasets\/new$/);
  await page.fill('#name', 'ui_demo_panel');
  // A wrong password first: a clear error, and neither password is echoed into the page.
  const wrong = demoConninfo.replace(/password=\S+/, 'password=not-the-password-4711');
  await page.fill('#connection_string', wrong);
  await page.click('button:has-text("Test connection")');
  await page.waitForSelector('#connection-check .alert.error');
  const refused = await page.textContent('#connection-check');
  assert.match(refused, /password authentication failed|28P01/);
  assert.ok(!(await page.content()).includes('not-the-password-4711'), 'the wrong password is not echoed');
  assert.equal(await page.inputValue('#name'), 'ui_demo_panel', 'the form keeps its other values');
  await shot(page, '03-connection-refused');
  await page.fill('#connection_string', demoConninfo);
  await page.click('button:has-text("Test connection")');
  await page.waitForSelector('#connection-check .alert.ok');
  assert.match(await page.textContent('#connection-check'), /Connection works/);
  assert.equal(await page.inputValue('#connection_string'), demoConninfo, 'htmx swapped only the result');
  await page.fill('#description', 'Demo panel registered by the browser test');
  await shot(page, '04-connection-works');
  await submit(page, 'button:has-text("Register dataset")');
  assert.match(page.url(), /\/ui\/datasets\/\d+\?notice=registered$/);
  datasetId = Number(/\/ui\/datasets\/(\d+)/.exec(page.url())[1]);
  assert.match(await page.textContent('.notice'), /Dataset registered/);
  assert.ok(!(await page.content()).includes(demoPassword));
});

test('profiling progress updates itself until the metadata waits for review', async () => {
  const { page } = admin;
  const started = Date.now();
  let ranHere = false;
  // The page polls its progress section and reloads itself when the jobs are done. The
  // background workers are few cluster-wide: after a few seconds the queue is run here.
  await waitFor(async () => {
    if (await page.$('h1 .badge.status-metadata_pending')) return true;
    if (!ranHere && Date.now() - started > 4000) {
      ranHere = true;
      psql('CALL mcp.run_pending_jobs()');
    }
    return false;
  }, { timeout: 30000, interval: 250, what: 'the dataset to reach metadata_pending' });
  assert.equal(page.url().split('?')[0], `${url}/ui/datasets/${datasetId}`, 'no navigation by hand');
  assert.match(await page.textContent('#progress'), /Profiling: finished/);
  const tables = await page.$$eval('details.table-profile .tname', (els) => els.map((e) => e.textContent));
  assert.ok(tables.includes('public.panelists'), 'the profile lists the tables: ' + tables);
  await page.click('details.table-profile:has(.tname:text("public.panelists")) summary');
  const sampleRows = await page.$$eval('details.table-profile[open] table.sample tbody tr', (rows) => rows.length);
  assert.ok(sampleRows >= 1 && sampleRows <= 5, `1 to 5 sample rows, got ${sampleRows}`);
  const columns = await page.$$eval('details.table-profile[open] table.columns tbody tr', (rows) => rows.length);
  assert.ok(columns >= 5, 'columns with their statistics');
  await shot(page, '05-profiled');
});

test('edits the description and shows the difference from the generated version', async () => {
  const { page } = admin;
  const generated = await page.inputValue('#md-description');
  assert.ok(generated.length > 20, 'a generated description to review');
  const edited = 'Synthetic smartphone and connected-TV panel, reviewed in the browser test. ' + generated;
  await page.fill('#md-description', edited);
  await page.waitForSelector('.unsaved', { state: 'visible' });  // Alpine marks the form dirty
  await submit(page, 'button:has-text("Save metadata")');
  assert.match(await page.textContent('.notice'), /Metadata saved/);
  assert.equal(await page.inputValue('#md-description'), edited);
  const added = await page.$$eval('.diff ins', (els) => els.map((e) => e.textContent).join(' '));
  assert.match(added, /reviewed in the browser test/);
  const stored = JSON.parse(psql(`SELECT mcp.get_metadata(${datasetId})`));
  assert.equal(stored.description, edited);
  assert.equal(stored.user_edited, true);
  await shot(page, '06-metadata-edited');
});

test('approves the dataset, recorded under the API key name', async () => {
  const { page } = admin;
  await submit(page, 'form[action$="/approve"] button');
  assert.ok(await page.$('h1 .badge.status-approved'));
  assert.match(await page.textContent('.notice'), /Approved/);
  assert.match(await page.textContent('.facts'), /by ui test admin/);
  assert.equal(psql(`SELECT approved_by FROM mcp.dataset(${datasetId})`), 'ui test admin');
  await shot(page, '07-approved');
});

test("an MCP SDK client's queries show in the logs under its name, failed ones highlighted", async () => {
  const { page } = admin;
  const { client } = await sdkClient(url, { key: adminKey, name: clientName });
  try {
    const ok = await client.callTool({ name: 'execute_query', arguments: {
      dataset_id: datasetId, sql: 'SELECT gender, count(*) AS panelists FROM panelists GROUP BY gender' } });
    assert.ok(!ok.isError, JSON.stringify(ok.content));
    const bad = await client.callTool({ name: 'execute_query', arguments: {
      dataset_id: datasetId, sql: 'SELECT * FROM no_such_table_for_ui' } });
    assert.equal(bad.isError, true);
  } finally {
    await client.close();
  }
  await page.click('nav a[href="/ui/logs"]');
  await page.waitForURL(/\/ui\/logs$/);
  await page.selectOption('#log-client', clientName);
  await page.waitForURL(/client=ui-e2e-sdk-client/);  // htmx pushed the filtered URL
  await page.waitForSelector('table.logs td.sql:has-text("GROUP BY gender")');
  const clients = await page.$$eval('table.logs td.client', (els) => [...new Set(els.map((e) => e.textContent))]);
  assert.deepEqual(clients, [clientName]);
  assert.match(await page.textContent('table.logs tr.failed'), /no_such_table_for_ui/);
  await page.waitForSelector('.chart-box canvas');
  assert.equal(await page.locator('.chart-box canvas').count() >= 2, true, 'both charts are drawn');
  await page.selectOption('#log-outcome', 'failed');
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 1);
  await page.selectOption('#log-outcome', '');
  await page.fill('#log-q', 'group by gender');
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 1);
  await page.fill('#log-q', '');
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 2);
  await shot(page, '08-logs-by-client');

  const csv = await page.request.get(`${url}/ui/logs/export.csv?range=24h&client=${clientName}`);
  assert.equal(csv.status(), 200);
  assert.match(csv.headers()['content-type'], /^text\/csv/);
  assert.match(csv.headers()['content-disposition'], /attachment/);
  const text = await csv.text();
  assert.match(text, /^id,created_at,client_name,/);
  assert.match(text, /GROUP BY gender/);
  assert.equal(text.trim().split('\r\n').length, 3, 'a header and two rows');

  await page.click('table.logs tr.failed td.time a');
  await page.waitForURL(/\/ui\/logs\/\d+$/);
  assert.match(await page.textContent('pre.sql'), /no_such_table_for_ui/);
  assert.match(await page.textContent('.facts'), new RegExp(clientName));
  assert.match(await page.textContent('.alert.error'), /42P01|does not exist/);
  await shot(page, '09-log-entry');
});

test('the log list refreshes itself while auto-refresh is on', async () => {
  const { page } = admin;
  await page.goto(`${url}/ui/logs?client=${clientName}&range=1h&auto=1`);
  await page.evaluate(() => { window.stillTheSamePage = true; });
  const { client } = await sdkClient(url, { key: adminKey, name: clientName });
  try {
    await client.callTool({ name: 'execute_query', arguments: {
      dataset_id: datasetId, sql: 'SELECT 42 AS answer_for_the_refresh' } });
  } finally {
    await client.close();
  }
  await page.waitForSelector('table.logs td.sql:has-text("answer_for_the_refresh")', { timeout: 12000 });
  assert.equal(await page.evaluate(() => window.stillTheSamePage), true, 'no page reload');
  await shot(page, '10-logs-refreshed');
});

test('the logs page filters on the house rule that cut an answer', async () => {
  const { page } = admin;
  const ruleClient = `${clientName}-rules`;
  const { client } = await sdkClient(url, { key: adminKey, name: ruleClient });
  try {
    const cut = await client.callTool({ name: 'execute_query', arguments: {
      dataset_id: datasetId, sql: 'SELECT * FROM events', format: 'json' } });
    assert.ok(cut.structuredContent.row_count <= 5, 'raw rows are cut to five');
    assert.equal(cut.structuredContent.house_rule, 'raw_rows');
    await client.callTool({ name: 'execute_query', arguments: {
      dataset_id: datasetId, sql: 'SELECT platform, count(*) FROM events GROUP BY platform' } });
  } finally {
    await client.close();
  }
  await page.goto(`${url}/ui/logs?client=${ruleClient}&range=1h`);
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 2);
  await page.selectOption('#log-rule', 'raw_rows');
  await page.waitForURL(/rule=raw_rows/);
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 1);
  assert.match(await page.textContent('table.logs tbody tr'), /SELECT \* FROM events[\s\S]*raw_rows/);
  await page.selectOption('#log-rule', 'none');
  await page.waitForURL(/rule=none/);
  await page.waitForFunction(() => document.querySelectorAll('table.logs tbody tr').length === 1
    && /GROUP BY platform/.test(document.querySelector('table.logs tbody tr').textContent));
  await shot(page, '10b-logs-by-house-rule');
});

test('settings: a rule and a dimension mapping are edited and reset', async () => {
  const { page } = admin;
  await page.goto(url + '/ui/settings');
  await page.fill('#setting-rules-low_base', 'Caveat any figure whose unweighted base is below 30 users.');
  await submit(page, '#rules-low_base button:has-text("Save")');
  assert.match(await page.textContent('.notice'), /Setting saved/);
  assert.equal(psql("SELECT mcp.get_setting('rules.low_base') #>> '{}'"),
               'Caveat any figure whose unweighted base is below 30 users.');
  await page.fill('#map-mappings-nccs-new', 'Z9');
  await page.fill('#map-mappings-nccs-new-to', 'Z');
  await submit(page, '#mappings-nccs button:has-text("Save mapping")');
  assert.equal(psql("SELECT mcp.get_setting('mappings.nccs') ->> 'Z9'"), 'Z');
  assert.equal(psql("SELECT mcp.get_setting('mappings.nccs') ->> 'A1'"), 'A', 'the other rows stay');
  await shot(page, '11-settings');
  for (const id of ['rules-low_base', 'mappings-nccs']) {
    await submit(page, `#${id} button:has-text("Reset to default")`);
  }
  assert.equal(psql("SELECT count(*) FROM mcp.settings() WHERE NOT is_default"), '0');
});

test('API keys: a new key is shown once, works, and is revoked', async () => {
  const { page } = admin;
  await page.goto(url + '/ui/keys');
  await page.fill('#key-name', 'ui created key');
  await page.selectOption('#key-role', 'reader');
  await submit(page, 'form.create-key button[type=submit]');
  const secret = await page.inputValue('#new-secret');
  assert.match(secret, /^mcp_[0-9a-f]{64}$/);
  assert.equal(psql("SELECT name FROM mcp.authenticate(:'secret')", { secret }), 'ui created key');
  await shot(page, '12-key-created');
  await page.goto(url + '/ui/keys');
  assert.ok(!(await page.content()).includes(secret), 'the secret is shown only once');
  await submit(page, 'form[action="/ui/keys/revoke"]:has(input[value="ui created key"]) button');
  assert.match(await page.textContent('.notice'), /Key revoked/);
  assert.equal(psql("SELECT status FROM mcp.api_keys() WHERE name = 'ui created key'"), 'revoked');
  assert.equal(psql("SELECT count(*) FROM mcp.authenticate(:'secret')", { secret }), '0');
});

test('forms are refused without the session CSRF token or from another origin', async () => {
  const { page } = admin;
  const before = psql(`SELECT status FROM mcp.dataset(${datasetId})`);
  const target = `${url}/ui/datasets/${datasetId}/deactivate`;
  const noToken = await page.request.post(target, { form: { name: 'x' } });
  assert.equal(noToken.status(), 403);
  const token = await page.getAttribute('form.sign-out input[name=csrf_token]', 'value');
  const wrongToken = await page.request.post(target, { form: { csrf_token: '0'.repeat(64) } });
  assert.equal(wrongToken.status(), 403);
  const crossSite = await page.request.post(target, {
    form: { csrf_token: token }, headers: { Origin: 'http://attacker.invalid' } });
  assert.equal(crossSite.status(), 403);
  assert.equal(psql(`SELECT status FROM mcp.dataset(${datasetId})`), before, 'nothing changed');
});

test('a reader key sees everything and can change nothing', async () => {
  const reader = await openBrowser();
  const { page } = reader;
  await signIn(page, readerKey);
  assert.equal(await page.$('a[href="/ui/datasets/new"]'), null, 'no add button');
  assert.equal(await page.$('nav a[href="/ui/keys"]'), null, 'no keys page in the menu');
  await page.goto(`${url}/ui/datasets/${datasetId}`);
  assert.equal(await page.$('form[action$="/deactivate"]'), null);
  assert.equal(await page.$('form[action$="/metadata"]'), null);
  assert.match(await page.textContent('.readonly-metadata'), /reviewed in the browser test/);
  await shot(page, '13-reader-dataset');
  const token = await page.getAttribute('form.sign-out input[name=csrf_token]', 'value');
  const forged = await page.request.post(`${url}/ui/datasets/${datasetId}/deactivate`, {
    form: { csrf_token: token } });
  assert.equal(forged.status(), 403);
  assert.match(await forged.text(), /reader key/);
  const keys = await page.request.get(url + '/ui/keys');
  assert.equal(keys.status(), 403);
  const settings = await page.request.post(url + '/ui/settings/rules.low_base', {
    form: { csrf_token: token, value: 'changed by a reader' } });
  assert.equal(settings.status(), 403);
  assert.equal(psql(`SELECT status FROM mcp.dataset(${datasetId})`), 'approved');
  assert.equal(psql("SELECT count(*) FROM mcp.settings() WHERE NOT is_default"), '0');
  assert.deepEqual(reader.problems, []);
});

test('accessible: labelled inputs, a skip link, keyboard use, phone width', async () => {
  const { page } = admin;
  for (const pagePath of ['/ui/datasets', '/ui/datasets/new', `/ui/datasets/${datasetId}`, '/ui/logs',
                          '/ui/settings', '/ui/keys', `/ui/logs?client=${clientName}`]) {
    await page.goto(url + pagePath);
    assert.deepEqual(await unlabelledInputs(page), [], `every input of ${pagePath} has a label`);
  }
  await page.goto(url + '/ui/datasets');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
  // From the content, the keyboard reaches the first dataset and opens it.
  for (let i = 0; i < 12; i += 1) {
    await page.keyboard.press('Tab');
    const href = await page.evaluate(() => document.activeElement.getAttribute('href'));
    if (href === `/ui/datasets/${datasetId}`) break;
  }
  await Promise.all([page.waitForURL(new RegExp(`/ui/datasets/${datasetId}$`)), page.keyboard.press('Enter')]);

  await page.setViewportSize({ width: 375, height: 740 });
  try {
  for (const pagePath of ['/ui/datasets', `/ui/datasets/${datasetId}`, `/ui/logs?client=${clientName}`,
                          '/ui/settings', '/ui/keys']) {
    await page.goto(url + pagePath);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `${pagePath} fits a phone (overflow ${overflow}px)`);
  }
  assert.equal(await page.isVisible('#site-nav'), false, 'the menu folds at phone width');
  await page.click('.nav-toggle');
  assert.equal(await page.isVisible('#site-nav'), true);
  assert.equal(await page.getAttribute('.nav-toggle', 'aria-expanded'), 'true');
  await shot(page, '14-phone-menu');
  await page.goto(`${url}/ui/logs?client=${clientName}`);
  await shot(page, '15-phone-logs');
  } finally {
    await page.setViewportSize({ width: 1280, height: 900 });
  }
});

test('security headers, no inline script or style, no CSP violation, no secret in the log', async () => {
  const { page } = admin;
  const response = await page.request.get(`${url}/ui/datasets/${datasetId}`);
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /script-src 'self'/);
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.doesNotMatch(headers['content-security-policy'], /unsafe-(inline|eval)/);
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['cache-control'], 'no-store');
  for (const pagePath of [`/ui/datasets/${datasetId}`, '/ui/logs', '/ui/settings', '/ui/keys', '/ui/sign-in']) {
    const html = await (await page.request.get(url + pagePath)).text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `no inline script in ${pagePath}`);
    assert.doesNotMatch(html, /\sstyle=|<style/, `no inline style in ${pagePath}`);
    assert.doesNotMatch(html, /\son[a-z]+=/, `no inline handler in ${pagePath}`);
    assert.doesNotMatch(html, /\b(src|href|action)="(?![/#]|data:)/, `nothing from other hosts in ${pagePath}`);
  }
  assert.deepEqual(admin.problems, [], 'no console error, CSP violation or leaked password');
  const log = fs.readFileSync(required('MCP_UI_BRIDGE_LOG'), 'utf8');
  for (const secret of [adminKey, readerKey, demoPassword, sessionCookie.value]) {
    assert.ok(!log.includes(secret), 'the bridge log holds no key, password or session');
  }
});

test('sign-out ends the session on the server', async () => {
  const { page, context } = admin;
  await page.goto(url + '/ui/datasets');
  await submit(page, 'form.sign-out button');
  assert.match(page.url(), /\/ui\/sign-in\?notice=signed_out/);
  assert.match(await page.textContent('.notice'), /signed out/);
  await page.goto(url + '/ui/datasets');
  assert.match(page.url(), /\/ui\/sign-in/);
  await context.addCookies([sessionCookie]);  // the old cookie, replayed
  await page.goto(url + '/ui/datasets');
  assert.match(page.url(), /\/ui\/sign-in/, 'a replayed cookie opens nothing');
});

test('without JavaScript: sign-in and the read-only views work', async () => {
  const plain = await openBrowser({ javaScript: false });
  const { page } = plain;
  await signIn(page, readerKey);
  assert.match(await page.textContent('table.datasets'), /ui_demo_panel/);
  await page.goto(`${url}/ui/datasets/${datasetId}`);
  assert.match(await page.textContent('h1'), /ui_demo_panel/);
  assert.ok((await page.$$('details.table-profile')).length >= 3);
  await page.goto(`${url}/ui/logs?client=${clientName}&range=24h`);
  assert.match(await page.textContent('table.logs'), /GROUP BY gender/);
  await page.goto(`${url}/ui/datasets?status=approved`);
  assert.match(await page.textContent('table.datasets'), /ui_demo_panel/);
  await page.goto(`${url}/ui/datasets?status=draft`);
  assert.match(await page.textContent('#dataset-list'), /No dataset has this status/);
  await shot(page, '16-no-javascript');
  assert.deepEqual(plain.problems, []);
});

test('a person signs in with login and password, sees only granted datasets, and the log filters by person', async () => {
  const login = 'ui.person@example.com';
  psql(`SELECT mcp.set_setting('auth.password_cost', '10');
        SELECT mcp.create_user(:'login', 'UI Person', 'reader', 'ui person password')`, { login });
  const person = await openBrowser();
  const { page } = person;
  await page.goto(url + '/ui/sign-in');
  await page.fill('#login', login);
  await page.fill('#password', 'not the password');
  await submit(page, 'form[action="/ui/sign-in"] button[type=submit]');
  assert.match(await page.textContent('#sign-in-error'), /login or password is wrong/);
  await page.fill('#login', login);
  await page.fill('#password', 'ui person password');
  await Promise.all([page.waitForURL(/\/ui\/datasets$/), page.click('form[action="/ui/sign-in"] button[type=submit]')]);
  assert.match(await page.textContent('.who'), /UI Person/);
  assert.doesNotMatch(await page.textContent('#dataset-list'), /ui_demo_panel/, 'nothing granted: no dataset');
  await page.goto(`${url}/ui/datasets/${datasetId}`);
  assert.match(await page.textContent('main'), /does not exist/, 'an ungranted dataset reads as a missing one');
  psql(`SELECT mcp.grant_dataset(:'id'::integer, to_user => :'login')`, { id: datasetId, login });
  await page.goto(url + '/ui/datasets');
  assert.match(await page.textContent('#dataset-list'), /ui_demo_panel/, 'granted: listed');
  await shot(page, '17-person-signed-in');

  // A query run as the person (the bridge names the caller the same way), then the log by person.
  psql(`SELECT set_config('mcp.caller', (SELECT k.id::text FROM mcp.api_keys k JOIN mcp.users u ON u.id = k.user_id
                                          WHERE u.login = :'login' AND k.kind = 'user'), false);
        SELECT mcp.execute_query(:'id'::integer, 'SELECT count(*) AS person_rows FROM panelists') IS NOT NULL;`,
       { id: datasetId, login });
  const { page: adminPage } = admin;
  await signIn(adminPage, adminKey);
  await adminPage.goto(`${url}/ui/logs?range=24h&user=${encodeURIComponent(login)}`);
  const rows = await adminPage.textContent('table.logs tbody');
  assert.match(rows, /person_rows/);
  assert.match(rows, /ui\.person@example\.com/, 'the row names the person');
  assert.doesNotMatch(rows, /GROUP BY gender/, 'other callers\' queries are filtered out');
  assert.equal(await adminPage.inputValue('#log-user'), login);
  assert.deepEqual(await unlabelledInputs(adminPage), []);
  assert.deepEqual(person.problems, []);
});
