// What the dashboard's browser tests share: the environment test/ui/run.sh sets, psql on the
// test database, and Chromium pages (a fresh profile each) that collect every problem a test
// then asserts away: console errors, CSP violations (with the element behind them), page
// errors, and any secret seen in an HTML page, a fragment or a URL.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { chromium } = require('playwright-core');

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this test through test/ui/run.sh`);
  return value;
}

function psql(sql, vars = {}) {
  const args = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', required('MCP_UI_DB')];
  for (const [name, value] of Object.entries(vars)) args.push('-v', `${name}=${value}`);
  return execFileSync('psql', args, { input: sql, encoding: 'utf8' }).trim();
}

const browsers = [];

// secrets: [{ value, name }]: text that must never reach the browser ("<name> appeared in <url>").
async function openBrowser({ javaScript = true, width = 1280, height = 900, secrets = [] } = {}) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'mcp-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: required('MCP_UI_CHROMIUM'),
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    javaScriptEnabled: javaScript,
    viewport: { width, height },
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(10000);
  const problems = [];
  // Names the element behind any CSP violation (the browser's own message does not).
  await page.addInitScript(() => document.addEventListener('securitypolicyviolation', (event) => {
    const target = event.target && event.target.outerHTML ? event.target.outerHTML.slice(0, 160) : '';
    console.error(`CSP violation of ${event.violatedDirective} by ${target} at ${location.pathname}`);
  }));
  page.on('console', (message) => {
    // HTTP errors the tests provoke (a refused key) are logged as "Failed to load resource";
    // anything else (a CSP violation, a script error) is a problem.
    if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
      const where = message.location();
      problems.push(`${message.text().slice(0, 120)} (${where.url || page.url()}:${where.lineNumber})`);
    }
  });
  page.on('pageerror', (error) => problems.push('page error: ' + error.message));
  page.on('dialog', (dialog) => dialog.accept());  // hx-confirm
  page.on('response', async (response) => {
    for (const { value, name } of secrets) {
      if (response.url().includes(value)) problems.push(`${name} appeared in a URL: ${response.url()}`);
    }
    const type = response.headers()['content-type'] || '';
    if (!type.startsWith('text/html')) return;
    const body = await response.text().catch(() => '');
    for (const { value, name } of secrets) {
      if (body.includes(value)) problems.push(`${name} appeared in ${response.url()}`);
    }
  });
  const entry = { context, page, problems, profile };
  browsers.push(entry);
  return entry;
}

async function closeBrowsers() {
  for (const { context, profile } of browsers.splice(0)) {
    await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(required('MCP_UI_ARTIFACTS'), name + '.png'), fullPage: true });
}

// Submits by clicking, then waits for the new page: a boosted swap replaces #main, a full
// navigation replaces the document; either way the marked #main is gone.
async function submit(page, selector) {
  await page.evaluate(() => { document.getElementById('main').dataset.stale = '1'; });
  await page.click(selector);
  await page.waitForSelector('#main:not([data-stale])');
}

// Inputs without a label (by <label for>, a wrapping label, aria-label or aria-labelledby).
async function unlabelledInputs(page) {
  return page.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((el) => el.type !== 'hidden')
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') &&
                    !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120)));
}

module.exports = { required, psql, openBrowser, closeBrowsers, shot, submit, unlabelledInputs };
