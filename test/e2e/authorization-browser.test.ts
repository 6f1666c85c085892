import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { launchChromium } from '../support/chromium.ts';
import { caFetch, pkcePair } from '../support/http-browser.ts';
import { MemoryOAuthProvider } from '../support/sdk-oauth-provider.ts';

/** The test's artifacts: the consent page as people see it (git-ignored, kept by CI). */
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const AUTHORIZE_PATH = '/.pomerium/mcp/authorize';

/**
 * A desktop MCP client's loopback redirect target (RFC 8252 §7.3): an http server on 127.0.0.1
 * that records each callback's query and tells the person they can close the window.
 */
async function startLoopbackCallback(): Promise<{
  readonly redirectUri: string;
  readonly host: string;
  next(): Promise<URLSearchParams>;
  stop(): Promise<void>;
}> {
  let waiting: ((query: URLSearchParams) => void)[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    // Every waiter gets this callback: one left over from a failed test must not swallow it.
    for (const resolve of waiting) resolve(url.searchParams);
    waiting = [];
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>Done</title><p>You can close this window.</p>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    host: `127.0.0.1:${port}`,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * The authorization flow of an MCP SDK v1 client once in real Chromium, as a person clicks it:
 * the SDK's 401 discovery gives the authorization URL, Chromium signs in at the demo identity
 * provider, answers the gateway's consent page, goes through the chained upstream connect and
 * lands on the client's loopback callback, whose code the SDK exchanges for a route-bound token.
 * Chromium enforces what a scripted browser does not: the consent page's CSP `form-action` across
 * the redirects that follow Allow, cookies, and the Origin of the form post.
 */
describe('an MCP client authorizes at a route in Chromium', () => {
  let fx: AuthorizationFixture;
  let chromium: Browser;
  let context: BrowserContext;
  let page: Page;
  let callback: Awaited<ReturnType<typeof startLoopbackCallback>>;
  let clientId: string;
  const blocked: string[] = [];
  const LOGIN = 'alice';

  beforeAll(async () => {
    [fx, callback] = await Promise.all([startAuthorizationFixture(), startLoopbackCallback()]);
    clientId = fx.documents.url('/clients/desktop.json');
    fx.documents.publish('/clients/desktop.json', [callback.redirectUri], {
      document: {
        client_id: clientId,
        client_name: 'Acme Desktop',
        client_uri: fx.documents.origin,
        redirect_uris: [callback.redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
    });
    chromium = await launchChromium(fx.cert);
    context = await chromium.newContext({ viewport: { width: 1024, height: 768 } });
    // Loopback only, also for what a page pulls in (oidc-provider's forms import a web font).
    await context.route(
      (url) => url.hostname !== 'localhost' && url.hostname !== '127.0.0.1',
      (route) => route.abort('blockedbyclient'),
    );
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    // A CSP refusal shows up only in the console; keep it for the failure message.
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) blocked.push(message.text());
    });
    await mkdir(RESULTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await Promise.all([fx?.stop(), callback?.stop()]);
  });

  async function signInAt(issuer: string) {
    await page.waitForURL((url) => url.origin === issuer);
    await page.locator('input[name="login"]').fill(LOGIN);
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
  }

  async function atConsentPage() {
    await page.waitForURL((url) => url.origin === fx.A && url.pathname === AUTHORIZE_PATH);
    await page.getByRole('button', { name: 'Allow' }).waitFor();
  }

  async function screenshot(name: string) {
    const path = join(RESULTS, name);
    await page.screenshot({ path, fullPage: true });
    const png = await readFile(path);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  }

  // Regression: the consent page's CSP once said `form-action 'self' <redirect origin>`, and
  // Chromium refused the redirect to the upstream's authorization server that follows Allow.
  it('gives a CIMD client a route-bound token after sign-in, consent, the upstream connect and its loopback callback', async () => {
    const provider = new MemoryOAuthProvider({
      redirectUrl: callback.redirectUri,
      clientMetadataUrl: clientId,
    });
    const agent = fx.browser().agent;
    const transport = new StreamableHTTPClientTransport(new URL(fx.mcp(fx.A)), {
      authProvider: provider,
      fetch: caFetch(agent),
    });
    const client = new Client({ name: 'mcp-edge-browser-test', version: '1.0.0' });
    await expect(client.connect(transport)).rejects.toThrow(/Unauthorized/);
    expect(provider.authorizationUrl, 'the SDK found the authorization endpoint').toBeDefined();

    const answered = callback.next();
    await page.goto(provider.authorizationUrl!.href);
    await signInAt(fx.demo.identityProvider.issuer);

    // The gateway's consent page: who asks, where the answer goes, which route, what access.
    await atConsentPage();
    const text = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Acme Desktop');
    expect(text).toContain(new URL(clientId).host);
    expect(text).toContain(callback.host);
    expect(text).toMatch(/app on this computer/i);
    expect(text).toContain('Route A');
    expect(text).toContain('mcp');
    await screenshot('consent.png');
    await page.getByRole('button', { name: 'Allow' }).click();

    // The chained connect: the upstream's authorization server asks for its own login and consent.
    await signInAt(fx.demo.upstream.issuer);
    await page.getByRole('button', { name: 'Continue' }).click();

    await page.waitForURL((url) => url.href.startsWith(`${callback.redirectUri}?`));
    const query = await answered;
    expect(await page.locator('body').innerText()).toContain('You can close this window');
    expect(blocked, 'no CSP refusal in Chromium').toEqual([]);
    expect(query.get('iss')).toBe(fx.A);
    const code = query.get('code');
    expect(code).toBeTruthy();

    await transport.finishAuth(code!);
    await transport.close();
    const tokens = provider.tokens();
    expect(tokens?.token_type).toBe('Bearer');
    expect(decodeJwt(tokens!.access_token)).toMatchObject({
      iss: fx.A,
      aud: fx.mcp(fx.A),
      sub: fx.userId(LOGIN),
      client_id: clientId,
      scope: 'mcp',
    });
  });

  it('marks a dynamically registered client unverified on the consent page, and Deny goes back to it', async () => {
    const registered = await caFetch(fx.browser().agent)(`${fx.A}/.pomerium/mcp/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [callback.redirectUri], client_name: 'Some CLI' }),
    });
    expect(registered.status).toBe(201);
    const { client_id } = (await registered.json()) as { client_id: string };
    const { challenge } = pkcePair();
    const authorize = new URL(`${fx.A}${AUTHORIZE_PATH}`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id,
      redirect_uri: callback.redirectUri,
      state: 'unverified-state',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'mcp',
      resource: fx.mcp(fx.A),
    }).toString();

    // Still signed in from the first test: straight to the consent page.
    await page.goto(authorize.href);
    await atConsentPage();
    const text = (await page.locator('main').innerText()).replace(/\s+/g, ' ');
    expect(text).toContain('Some CLI');
    expect(text).toMatch(/unverified/i);
    expect(text).toContain(callback.host);
    await screenshot('consent-unverified.png');

    const answered = callback.next();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${callback.redirectUri}?`));
    const query = await answered;
    expect(Object.fromEntries(query)).toMatchObject({
      error: 'access_denied',
      state: 'unverified-state',
      iss: fx.A,
    });
    expect(blocked, 'no CSP refusal in Chromium').toEqual([]);
  });
});
