import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import { cookieNames } from '../../functions/core/web/cookies.ts';
import {
  type DemoIdentityProvider,
  startDemoIdentityProvider,
} from '../../functions/local/demo/identity-provider.ts';
import { type LocalGateway, startLocalGateway } from '../../functions/local/gateway.ts';
import { freePort } from '../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../functions/local/tls.ts';
import { type Exchange, HttpBrowser, hiddenField } from '../support/http-browser.ts';
import { expectRefusal } from '../support/refusals.ts';

const LOGIN = '/.pomerium/login';
const CALLBACK = '/.pomerium/login/callback';
const LOGOUT = '/.pomerium/logout';
const CONNECTIONS = '/.pomerium/connections';

/** The hidden fields of the first POST form on a page, and where it posts. */
function postForm(html: string, base: URL): { action: URL; fields: URLSearchParams } {
  const form = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no POST form in ${html.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const input of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields.set(input[1]!, input[2]!);
  }
  return { action: new URL(form[1]!.replace(/&amp;/g, '&'), base), fields };
}

/** Where a page's meta refresh goes, if it has one. */
function refreshTarget(page: Exchange): URL | undefined {
  const target = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(page.body)?.[1];
  return target
    ? new URL(
        target.replace(/&#(\d+);/g, (_m, code: string) => String.fromCharCode(Number(code))),
        page.url,
      )
    : undefined;
}

/** One gateway with two routes in front of one demo identity provider, and helpers for a person. */
async function startParty(dir: string, cert: DevCertificate, rpInitiatedLogout: boolean) {
  const origins = [`https://localhost:${await freePort()}`, `https://localhost:${await freePort()}`];
  const idp = await startDemoIdentityProvider({
    port: 0,
    tls: cert,
    redirectUris: origins.map((o) => `${o}${CALLBACK}`),
    rpInitiatedLogout,
  });
  const parsed = parseConfig({ routes: origins.map((from) => ({ from, to: 'https://up.example.net/mcp' })) });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const gateway = await startLocalGateway({
    config: parsed.config,
    tls: cert,
    ca: cert.ca,
    idp: { issuer: idp.issuer, clientId: idp.clientId },
  });
  return { dir, origins, idp, gateway };
}

describe('signing out of the gateway and of the identity provider', () => {
  let dir: string;
  let cert: DevCertificate;
  let idp: DemoIdentityProvider;
  let gateway: LocalGateway;
  let A: string;
  let B: string;
  const browsers: HttpBrowser[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-edge-e2e-sign-out-'));
    cert = await ensureDevCertificate(dir);
    const party = await startParty(dir, cert, true);
    ({ idp, gateway } = party);
    [A, B] = party.origins as [string, string];
  });

  afterAll(async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await Promise.all([gateway?.stop(), idp?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function newBrowser(): HttpBrowser {
    const browser = new HttpBrowser(cert.ca);
    browsers.push(browser);
    return browser;
  }

  /** Signs in on a route; returns the identity provider's authorization URL the sign-in used. */
  async function signIn(browser: HttpBrowser, origin: string, login = 'alice'): Promise<URL> {
    const start = await browser.request(new URL(`${origin}${LOGIN}`));
    expect(start.status).toBe(303);
    const authorization = new URL(start.headers.get('location')!);
    const end = await browser.follow(
      authorization,
      login,
      (url) => url.origin === origin && url.pathname === CALLBACK,
    );
    if (end.status !== undefined) throw new Error(`sign-in stopped at ${end.url.href} (${end.status})`);
    expect((await browser.request(end.url)).status).toBe(303);
    return authorization;
  }

  async function connectionsStatus(browser: HttpBrowser, origin: string): Promise<number> {
    return (await browser.request(new URL(`${origin}${CONNECTIONS}`), { accept: 'application/json' })).status;
  }

  /** Posts a sign-out form of the connections page, as the browser would. */
  async function postSignOut(browser: HttpBrowser, origin: string, everywhere = false): Promise<Exchange> {
    const page = await browser.request(new URL(`${origin}${CONNECTIONS}`));
    const csrf = hiddenField(page.body, 'csrf')!;
    const body = new URLSearchParams({ csrf, ...(everywhere ? { everywhere: '1' } : {}) });
    return browser.request(new URL(`${origin}${LOGOUT}`), { method: 'POST', body, headers: { origin } });
  }

  it('is a silent sign-in without a sign-out: the identity provider keeps its session (the threat)', async () => {
    const browser = newBrowser();
    await signIn(browser, A);
    expect(browser.prompts).toEqual(['login']);
    // The gateway's session gone (a closed tab, an expiry), the provider's still there.
    browser.setCookie('localhost', cookieNames(A).session, undefined);
    await signIn(browser, A);
    expect(browser.prompts).toEqual(['login']);
  });

  it('signs nobody out on GET: the page offers the sign-out forms and the session stays', async () => {
    const browser = newBrowser();
    await signIn(browser, A);
    const page = await browser.request(new URL(`${A}${LOGOUT}?everywhere=1`));
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>Sign out</h1>');
    expect(page.body.match(/<form method="post" action="\/\.pomerium\/logout">/g)).toHaveLength(2);
    expect(page.headers.getSetCookie()).toEqual([]);
    expect(await connectionsStatus(browser, A)).toBe(200);
  });

  it('ends the gateway session and then the identity provider’s, so the next sign-in in this browser asks for credentials', async () => {
    const browser = newBrowser();
    await signIn(browser, A);
    const names = cookieNames(A);

    const done = await postSignOut(browser, A);
    expect(done.status).toBe(200);
    expect(done.body).toContain('<h1>Signed out</h1>');
    expect(browser.cookie('localhost', names.session)).toBeUndefined();
    expect(done.headers.getSetCookie()).toContain(
      `${names.freshLogin}=1; Path=/; Max-Age=2592000; Secure; HttpOnly; SameSite=Lax`,
    );
    // A sign-in begun before and abandoned cannot finish silently afterwards.
    expect(done.headers.getSetCookie().some((c) => c.startsWith(`${names.signIn}=;`))).toBe(true);
    expect(await connectionsStatus(browser, A)).toBe(401);

    // On to the provider's end_session_endpoint (RP-Initiated Logout 1.0) with the client's id and
    // the route's sign-out page to come back to; no ID token hint (sessions keep none).
    const endSession = refreshTarget(done)!;
    expect(endSession.origin).toBe(idp.issuer);
    expect(Object.fromEntries(endSession.searchParams)).toEqual({
      client_id: idp.clientId,
      post_logout_redirect_uri: `${A}${LOGOUT}`,
    });
    const confirm = await browser.request(endSession);
    expect(confirm.status).toBe(200);
    const form = postForm(confirm.body, confirm.url);
    form.fields.set('logout', 'yes');
    const confirmed = await browser.request(form.action, { method: 'POST', body: form.fields });
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get('location')).toBe(`${A}${LOGOUT}`);
    const landing = await browser.request(new URL(confirmed.headers.get('location')!));
    expect(landing.status).toBe(200);
    expect(landing.body).toContain('<h1>Signed out</h1>');

    // The next person at this browser: the provider asks for credentials (and the gateway asked it to).
    const authorization = await signIn(browser, A, 'bob');
    expect(authorization.searchParams.get('prompt')).toBe('login');
    expect(authorization.searchParams.get('max_age')).toBe('0');
    expect(browser.prompts).toEqual(['login', 'login']);
    expect(browser.cookie('localhost', names.freshLogin)).toBeUndefined();
    const me = await browser.request(new URL(`${A}${CONNECTIONS}`), { accept: 'application/json' });
    expect(JSON.parse(me.body).user).toBe('bob@example.com');

    // Once signed in afresh, sign-ins are ordinary again.
    browser.setCookie('localhost', names.session, undefined);
    const again = await signIn(browser, A, 'bob');
    expect(again.searchParams.get('prompt')).toBeNull();
    expect(browser.prompts).toEqual(['login', 'login']);
  });

  it('forces a fresh login on the route even when the browser never reaches the provider’s sign-out', async () => {
    const browser = newBrowser();
    await signIn(browser, A);
    expect((await postSignOut(browser, A)).status).toBe(200);
    // The person closes the tab before the provider's page: its session is still open.
    await signIn(browser, A);
    expect(browser.prompts).toEqual(['login', 'login']);
  });

  it('refuses a sign-in the provider completed without asking for credentials after a sign-out (login_not_fresh)', async () => {
    const browser = newBrowser();
    await signIn(browser, A);
    expect((await postSignOut(browser, A)).status).toBe(200);
    // A provider that ignores prompt=login and max_age=0: the browser goes there without them.
    const start = await browser.request(new URL(`${A}${LOGIN}`));
    const authorization = new URL(start.headers.get('location')!);
    authorization.searchParams.delete('prompt');
    authorization.searchParams.delete('max_age');
    const end = await browser.follow(authorization, 'alice', (url) => url.pathname === CALLBACK);
    expect(browser.prompts).toEqual(['login']);
    const refused = await browser.request(end.url);
    expectRefusal(refused, 403, 'login_not_fresh');
    expect(browser.cookie('localhost', cookieNames(A).session)).toBeUndefined();
    // The mark stays until a sign-in really was fresh.
    expect(browser.cookie('localhost', cookieNames(A).freshLogin)).toBe('1');
  });

  it('signs the person out everywhere: every browser, every route; another person stays signed in', async () => {
    const laptop = newBrowser();
    const phone = newBrowser();
    const bob = newBrowser();
    await signIn(laptop, A, 'carol');
    await signIn(phone, A, 'carol');
    await signIn(phone, B, 'carol');
    await signIn(bob, A, 'bob');

    const page = await laptop.request(new URL(`${A}${CONNECTIONS}`));
    expect(page.body).toContain('<input type="hidden" name="everywhere" value="1">');
    expect(page.body).toContain('Sign out everywhere');

    const done = await postSignOut(laptop, A, true);
    expect(done.status).toBe(200);
    expect(done.body).toContain('You are signed out of every route of this gateway, in every browser.');
    expect(await connectionsStatus(laptop, A)).toBe(401);
    expect(await connectionsStatus(phone, A)).toBe(401);
    expect(await connectionsStatus(phone, B)).toBe(401);
    expect(await connectionsStatus(bob, A)).toBe(200);
  });

  it('after signing out everywhere, a silent sign-in on another route in a browser that kept the provider’s session is refused, and the next one asks for credentials', async () => {
    const browser = newBrowser();
    await signIn(browser, A, 'erin');
    expect(browser.prompts).toEqual(['login']);
    // Signed out everywhere on A; the browser never reaches the provider's sign-out page.
    expect((await postSignOut(browser, A, true)).status).toBe(200);
    // Route B has no fresh-login cookie in this browser: the provider signs the old person in silently.
    const start = await browser.request(new URL(`${B}${LOGIN}`));
    const authorization = new URL(start.headers.get('location')!);
    expect(authorization.searchParams.get('prompt')).toBeNull();
    const end = await browser.follow(authorization, 'erin', (url) => url.pathname === CALLBACK);
    expect(browser.prompts).toEqual(['login']);
    expectRefusal(await browser.request(end.url), 403, 'login_not_fresh');
    expect(browser.cookie('localhost', cookieNames(B).session)).toBeUndefined();
    // The refusal marked this browser on B: the next sign-in asks for credentials, and succeeds.
    await signIn(browser, B, 'erin');
    expect(browser.prompts).toEqual(['login', 'login']);
    expect(await connectionsStatus(browser, B)).toBe(200);
  });

  it('refuses a sign-out everywhere from another site or without the page’s token, ending nothing', async () => {
    const browser = newBrowser();
    await signIn(browser, A, 'dave');
    const other = newBrowser();
    await signIn(other, B, 'dave');
    const csrf = hiddenField((await browser.request(new URL(`${A}${CONNECTIONS}`))).body, 'csrf')!;
    const attempts: Array<{ body: URLSearchParams; headers: Record<string, string> }> = [
      { body: new URLSearchParams({ everywhere: '1' }), headers: { origin: A } },
      { body: new URLSearchParams({ csrf, everywhere: '1' }), headers: { origin: 'https://evil.example' } },
      { body: new URLSearchParams({ csrf, everywhere: '1' }), headers: { 'sec-fetch-site': 'cross-site' } },
    ];
    for (const attempt of attempts) {
      const res = await browser.request(new URL(`${A}${LOGOUT}`), { method: 'POST', ...attempt });
      expectRefusal(res, 403, 'csrf');
    }
    expect(await connectionsStatus(browser, A)).toBe(200);
    expect(await connectionsStatus(other, B)).toBe(200);
  });
});

describe('signing out with an identity provider that has no end_session_endpoint', () => {
  let dir: string;
  let cert: DevCertificate;
  let idp: DemoIdentityProvider;
  let gateway: LocalGateway;
  let A: string;
  let browser: HttpBrowser;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-edge-e2e-sign-out-plain-'));
    cert = await ensureDevCertificate(dir);
    const party = await startParty(dir, cert, false);
    ({ idp, gateway } = party);
    A = party.origins[0]!;
    browser = new HttpBrowser(cert.ca);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([gateway?.stop(), idp?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('says the provider’s session may remain, and the next sign-in on the route asks for credentials', async () => {
    const metadata = await browser.request(new URL(`${idp.issuer}/.well-known/openid-configuration`));
    expect(JSON.parse(metadata.body).end_session_endpoint).toBeUndefined();

    const signIn = async (login: string) => {
      const end = await browser.follow(new URL(`${A}${LOGIN}`), login, (url) => url.pathname === CALLBACK);
      expect((await browser.request(end.url)).status).toBe(303);
    };
    await signIn('alice');
    const csrf = hiddenField((await browser.request(new URL(`${A}${CONNECTIONS}`))).body, 'csrf')!;
    const done = await browser.request(new URL(`${A}${LOGOUT}`), {
      method: 'POST',
      body: new URLSearchParams({ csrf }),
      headers: { origin: A },
    });
    expect(done.status).toBe(200);
    expect(refreshTarget(done)).toBeUndefined();
    expect(done.body).toContain('The identity provider offers no sign-out');

    // (The same login again: another one would make oidc-provider switch accounts through a page
    // that submits itself with a script, which this scripted browser does not run.)
    await signIn('alice');
    expect(browser.prompts).toEqual(['login', 'login']);
    expect(await browser.request(new URL(`${A}${CONNECTIONS}`))).toMatchObject({ status: 200 });
  });
});
