// What the OAuth client suites share: a free loopback port, the in-memory store an MCP host
// keeps for one server (the SDK's OAuthClientProvider), and headless Chromium to fill the
// sign-in and consent pages.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Registration, PKCE verifier and tokens for one server; with metadataUrl, the client
// identifies itself by its Client ID Metadata Document instead of registering.
class MemoryProvider {
  constructor(clientName, callback, metadataUrl = null) {
    this.clientName = clientName;
    this.callback = callback;
    this.metadataUrl = metadataUrl;
    this.saved = {};
    this.authorizationUrl = null;
  }
  get clientMetadataUrl() { return this.metadataUrl || undefined; }
  get redirectUrl() { return this.callback; }
  get clientMetadata() {
    return { client_name: this.clientName, redirect_uris: [this.callback], grant_types: ['authorization_code', 'refresh_token'],
             response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  state() { return 'state-' + Math.random().toString(36).slice(2); }
  clientInformation() { return this.saved.client; }
  saveClientInformation(info) { this.saved.client = info; }
  tokens() { return this.saved.tokens; }
  saveTokens(tokens) { this.saved.tokens = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(verifier) { this.saved.verifier = verifier; }
  codeVerifier() { return this.saved.verifier; }
}

// Headless Chromium with a throwaway profile; close() removes both.
async function launchChromium(prefix) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.MCP_TEST_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  return { browser, profile };
}

module.exports = { freePort, MemoryProvider, launchChromium };
