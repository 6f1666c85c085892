import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userIdFor } from '../../functions/core/auth/signin.ts';
import { parseConfig } from '../../functions/core/config/parse.ts';
import { type LocalDemo, startLocalDemo } from '../../functions/local/demo/start.ts';
import { type LocalGateway, startLocalGateway } from '../../functions/local/gateway.ts';
import { freePort } from '../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../functions/local/tls.ts';
import { launchChromium } from '../support/chromium.ts';

/** The test's artifact: the connections page after connecting (git-ignored). */
const RESULTS = fileURLToPath(new URL('../../test-results/', import.meta.url));
const SCREENSHOT = join(RESULTS, 'connections.png');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * The connect flow once in real Chromium, as a person clicks it: the gateway's pages, the demo
 * identity provider's and the upstream authorization server's login and consent forms, cookies,
 * redirects, CSP and the disconnect form's Origin as a browser really sends them. Chromium trusts
 * the development certificate's key only (no blanket certificate-error bypass) and resolves no host
 * but localhost.
 */
describe('the connect flow in Chromium', () => {
  let dir: string;
  let cert: DevCertificate;
  let demo: LocalDemo;
  let gateway: LocalGateway;
  let chromium: Browser;
  let context: BrowserContext;
  let page: Page;
  let origin: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-edge-e2e-browser-'));
    cert = await ensureDevCertificate(dir);
    origin = `https://localhost:${await freePort()}`;
    chromium = await launchChromium(cert);
    demo = await startLocalDemo({
      routeOrigins: [origin],
      tls: cert,
      ca: cert.ca,
      ports: { identityProvider: 0, upstream: 0, upstreamAuthorizationServer: 0 },
    });
    const parsed = parseConfig({
      routes: [{ from: origin, to: demo.upstream.mcpUrl, name: 'Demo tools', allowPrivateNetwork: true }],
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    gateway = await startLocalGateway({
      config: parsed.config,
      tls: cert,
      ca: cert.ca,
      idp: { issuer: demo.identityProvider.issuer, clientId: demo.identityProvider.clientId },
    });
    context = await chromium.newContext();
    // Loopback only, also for what a page pulls in (oidc-provider's forms import a web font).
    await context.route(
      (url) => url.hostname !== 'localhost' && url.hostname !== '127.0.0.1',
      (route) => route.abort('blockedbyclient'),
    );
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
  });

  afterAll(async () => {
    await context?.close();
    await chromium?.close();
    await Promise.all([gateway?.stop(), demo?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function signInAt(issuer: string, login: string) {
    await page.waitForURL((url) => url.origin === issuer);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill('any password');
    await page.getByRole('button', { name: 'Sign-in' }).click();
  }

  const connections = () => `${origin}/.pomerium/connections`;

  it('signs in at the IdP, connects at the upstream authorization server, and shows the route connected', async () => {
    // Signed out: the connections page sends the person to the identity provider first.
    await page.goto(connections());
    await signInAt(demo.identityProvider.issuer, 'alice');
    await page.waitForURL(connections());
    expect(await page.locator('h1').textContent()).toBe('Connections');
    expect(await page.locator('main').textContent()).toContain('Signed in as alice@example.com');
    expect(await page.locator('td span').textContent()).toBe('not connected');

    // Connect: the upstream's authorization server asks for its own login and for consent.
    await page.getByRole('link', { name: 'Connect' }).click();
    await signInAt(demo.upstream.issuer, 'alice');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(connections());
    expect(await page.locator('td span').textContent()).toBe('connected');
    expect(await page.locator('tbody').textContent()).toContain('mcp:tools');
    expect(demo.upstream.fetchedCimds).toContain(`${origin}/.well-known/mcp-client-metadata.json`);
    expect(
      await gateway.services.vault.get({
        route: origin,
        user: userIdFor(demo.identityProvider.issuer, 'alice'),
      }),
    ).toMatchObject({ ok: true });

    await mkdir(RESULTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = await readFile(SCREENSHOT);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.byteLength).toBeGreaterThan(1000);
  });

  // Regression: pages once sent Referrer-Policy no-referrer, so Chromium posted these forms with
  // "Origin: null" and the CSRF check refused every Disconnect and Sign out.
  it('disconnects from the connections page', async () => {
    await page.goto(connections());
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.waitForURL(connections());
    expect(await page.locator('td span').textContent()).toBe('not connected');
    expect(
      await gateway.services.vault.get({
        route: origin,
        user: userIdFor(demo.identityProvider.issuer, 'alice'),
      }),
    ).toEqual({
      ok: false,
      code: 'not_connected',
    });
  });

  it('asks before a connect another site started, and connects when the person continues', async () => {
    // A link on a page of another site (127.0.0.1 is another site than localhost), answered by
    // Chromium's request interception: no server, and nothing leaves the browser.
    const start = `${origin}/.pomerium/connect?return_to=${encodeURIComponent('/.pomerium/connections')}`;
    const elsewhere = 'https://127.0.0.1:9/elsewhere';
    await page.route(elsewhere, (route) =>
      route.fulfill({ contentType: 'text/html', body: `<a href="${start}">Connect your tools</a>` }),
    );
    await page.goto(elsewhere);
    await page.getByRole('link', { name: 'Connect your tools' }).click();
    await page.waitForURL(start);
    const upstreamHost = new URL(demo.upstream.mcpUrl).host;
    expect(await page.locator('h1').textContent()).toBe('Connect Demo tools to your account?');
    expect(await page.locator('main').textContent()).toContain(upstreamHost);
    await page.screenshot({ path: join(RESULTS, 'connect-confirm.png'), fullPage: true });

    // Continue is this page's own link: the connect starts, at the upstream's authorization server.
    await page.getByRole('link', { name: `Continue to ${upstreamHost}` }).click();
    await page.waitForURL((url) => url.origin === demo.upstream.issuer || url.href === connections());
    if (new URL(page.url()).origin === demo.upstream.issuer) {
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForURL(connections());
    }
    expect(await page.locator('td span').textContent()).toBe('connected');
  });

  it('signs out from the connections page and at the identity provider: the next person is asked to sign in', async () => {
    await page.goto(connections());
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    // The gateway's "Signed out" page moves on to the identity provider's sign-out by itself.
    await page.waitForURL((url) => url.origin === demo.identityProvider.issuer);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(`${origin}/.pomerium/logout`);
    expect(await page.locator('h1').textContent()).toBe('Signed out');
    const cookies = await page.context().cookies(origin);
    expect(cookies.filter((c) => c.name.startsWith('__Host-mcp-edge-session-'))).toEqual([]);

    // Someone else at this browser opens the connections page: the identity provider shows its
    // login form instead of signing them in silently as alice.
    await page.goto(connections());
    await page.waitForURL((url) => url.origin === demo.identityProvider.issuer);
    await page.locator('input[name="login"]').waitFor();
    await signInAt(demo.identityProvider.issuer, 'bob');
    await page.waitForURL(connections());
    expect(await page.locator('main').textContent()).toContain('Signed in as bob@example.com');
  });
});
