import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/parse.ts';
import { randomToken } from '../../functions/core/crypto/random.ts';
import { type CookieNames, cookieNames } from '../../functions/core/web/cookies.ts';
import {
  type DemoIdentityProvider,
  startDemoIdentityProvider,
} from '../../functions/local/demo/identity-provider.ts';
import { type LocalGateway, startLocalGateway } from '../../functions/local/gateway.ts';
import { freePort } from '../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../functions/local/tls.ts';
import { type Exchange, HttpBrowser, hiddenField } from '../support/http-browser.ts';
import { expectRefusal as expectCode } from '../support/refusals.ts';

/**
 * The sign-in side of the gateway refuses hostile, forged and replayed input with a clear page
 * and a stable code, and creates nothing for it. A real identity provider (the demo's
 * oidc-provider) signs people in; sessions are real DynamoDB Local items, and the sign-in
 * transaction travels sealed in its own cookie (nothing is stored before the person signs in).
 */
describe('sign-in and sign-out refusals on the local gateway', () => {
  let dir: string;
  let cert: DevCertificate;
  let idp: DemoIdentityProvider;
  let gateway: LocalGateway;
  let origin: string;
  /** A second route of the same gateway. */
  let otherOrigin: string;
  let names: CookieNames;
  /** Added to the gateway's clock, to let a sign-in transaction expire. */
  let skew = 0;
  const browsers: HttpBrowser[] = [];

  const LOGIN = '/.pomerium/login';
  const CALLBACK = '/.pomerium/login/callback';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-edge-e2e-login-'));
    cert = await ensureDevCertificate(dir);
    origin = `https://localhost:${await freePort()}`;
    otherOrigin = `https://localhost:${await freePort()}`;
    names = cookieNames(origin);
    idp = await startDemoIdentityProvider({
      port: 0,
      tls: cert,
      redirectUris: [`${origin}${CALLBACK}`, `${otherOrigin}${CALLBACK}`],
    });
    const parsed = parseConfig({
      routes: [
        { from: origin, to: 'https://up.example.net/mcp' },
        { from: otherOrigin, to: 'https://up.example.net/mcp' },
      ],
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    gateway = await startLocalGateway({
      config: parsed.config,
      tls: cert,
      ca: cert.ca,
      idp: { issuer: idp.issuer, clientId: idp.clientId },
      clock: { now: () => Date.now() + skew },
    });
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

  const at = (path: string) => new URL(`${origin}${path}`);

  /** Items whose `pk` starts with `prefix`; for `session#`, the sessions themselves (not their index). */
  async function count(prefix: 'login#' | 'session#' | ''): Promise<number> {
    let total = 0;
    let start: Record<string, never> | undefined;
    do {
      const page = await gateway.dynamo.client.send(
        new ScanCommand({
          TableName: gateway.dynamo.tableName,
          FilterExpression: prefix === 'session#' ? 'begins_with(pk, :p) AND sk = :s' : 'begins_with(pk, :p)',
          ExpressionAttributeValues: {
            ':p': { S: prefix },
            ...(prefix === 'session#' ? { ':s': { S: 'session' } } : {}),
          },
          Select: 'COUNT',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      total += page.Count ?? 0;
      start = page.LastEvaluatedKey as typeof start;
    } while (start);
    return total;
  }

  function expectRefusal(res: Exchange, status: number, code: string) {
    expectCode(res, status, code);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.body).not.toMatch(/at .+\.(ts|js):\d+/);
    expect(res.headers.get('location')).toBeNull();
    expect(res.headers.getSetCookie().some((c) => c.startsWith(`${names.session}=`))).toBe(false);
  }

  /** Starts a sign-in and signs in at the IdP; returns the callback URL the IdP sent the browser to. */
  async function signInUntilCallback(browser: HttpBrowser, login = 'alice'): Promise<URL> {
    const end = await browser.follow(
      at(`${LOGIN}?return_to=${encodeURIComponent('/.pomerium/connections')}`),
      login,
      (url) => url.origin === origin && url.pathname === CALLBACK,
    );
    if (end.status !== undefined) throw new Error(`sign-in stopped at ${end.url.href} (${end.status})`);
    return end.url;
  }

  async function signedIn(browser: HttpBrowser): Promise<HttpBrowser> {
    const res = await browser.request(await signInUntilCallback(browser));
    expect(res.status).toBe(303);
    expect(browser.cookie('localhost', names.session)).toBeDefined();
    return browser;
  }

  async function connectionsStatus(browser: HttpBrowser): Promise<{ status: number; error?: string }> {
    const res = await browser.request(at('/.pomerium/connections'), { accept: 'application/json' });
    return { status: res.status, error: (JSON.parse(res.body) as { error?: string }).error };
  }

  it('refuses return_to values off the route’s origin, storing nothing and setting no cookie', async () => {
    const browser = newBrowser();
    const before = await count('login#');
    for (const target of [
      '//evil.example',
      'https://evil.example',
      '/\\evil.example',
      '/\r\nSet-Cookie:x=y',
      '\\\\evil.example',
      'javascript:alert(1)',
      // dot segments that normalise to a protocol-relative URL (regression: these once gave a 500)
      '/..//evil.example',
      '/.//evil.example',
      '/a/..//evil.example',
      '/%2e%2e//evil.example',
    ]) {
      const res = await browser.request(at(`${LOGIN}?return_to=${encodeURIComponent(target)}`));
      expectRefusal(res, 400, 'invalid_return_to');
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    expect(await count('login#')).toBe(before);

    // A same-origin return path starts a sign-in: its transaction is a cookie, not an item.
    const items = await count('');
    const ok = await browser.request(
      at(`${LOGIN}?return_to=${encodeURIComponent('/.pomerium/connections')}`),
    );
    expect(ok.status).toBe(303);
    expect(new URL(ok.headers.get('location')!).origin).toBe(idp.issuer);
    expect(browser.cookie('localhost', names.signIn)).toMatch(/^[A-Za-z0-9_-]{100,}$/);
    expect(ok.headers.getSetCookie().find((c) => c.startsWith(`${names.signIn}=`))).toMatch(
      /; Path=\/; Max-Age=600; Secure; HttpOnly; SameSite=Lax$/,
    );
    expect(await count('')).toBe(items);
  });

  it('refuses a forged, missing or malformed state at the login callback, creating no session', async () => {
    const browser = newBrowser();
    await signInUntilCallback(browser);
    expect(browser.cookie('localhost', names.binding)).toBeDefined();
    const sessions = await count('session#');
    expectRefusal(
      await browser.request(at(`${CALLBACK}?code=forged&state=${randomToken()}&iss=${idp.issuer}`)),
      400,
      'login_state_invalid',
    );
    expectRefusal(await browser.request(at(`${CALLBACK}?code=forged`)), 400, 'login_state_invalid');
    expectRefusal(
      await browser.request(at(`${CALLBACK}?code=x&state=%3Cscript%3Ealert(1)%3C%2Fscript%3E`)),
      400,
      'login_state_invalid',
    );
    expect(await count('session#')).toBe(sessions);
  });

  it('completes a real sign-in once, and refuses a replay of its callback without a new session', async () => {
    const browser = newBrowser();
    const callback = await signInUntilCallback(browser);
    const before = await count('session#');
    const first = await browser.request(callback);
    expect(first.status).toBe(303);
    expect(first.headers.get('location')).toBe('/.pomerium/connections');
    expect(await count('session#')).toBe(before + 1);
    const session = browser.cookie('localhost', names.session);

    // The callback cleared the transaction cookie: the same browser has nothing to replay with.
    expect(browser.cookie('localhost', names.signIn)).toBeUndefined();
    expectRefusal(await browser.request(callback), 400, 'login_state_invalid');
    expect(await count('session#')).toBe(before + 1);
    // The replay did not disturb the session it had already created.
    expect(browser.cookie('localhost', names.session)).toBe(session);
    expect((await connectionsStatus(browser)).status).toBe(200);
  });

  it('refuses a replay with a kept copy of the transaction cookie at the identity provider: its code is spent', async () => {
    const browser = newBrowser();
    const callback = await signInUntilCallback(browser);
    const kept = browser.cookie('localhost', names.signIn)!;
    const before = await count('session#');
    expect((await browser.request(callback)).status).toBe(303);

    // Same browser binding, same transaction cookie, same callback URL: everything the gateway checks
    // matches, so it redeems the code again, and oidc-provider refuses it (invalid_grant).
    browser.setCookie('localhost', names.session, undefined);
    browser.setCookie('localhost', names.signIn, kept);
    const replay = await browser.request(callback);
    expectRefusal(replay, 400, 'login_response_invalid');
    expect(await count('session#')).toBe(before + 1);
    // The refused replay used the copy up too.
    expect(browser.cookie('localhost', names.signIn)).toBeUndefined();
  });

  it('refuses a transaction cookie that was changed, copied to another browser or made for another route', async () => {
    const browser = newBrowser();
    const callback = await signInUntilCallback(browser);
    const value = browser.cookie('localhost', names.signIn)!;
    const binding = browser.cookie('localhost', names.binding)!;
    const before = await count('session#');

    const middle = Math.floor(value.length / 2);
    const changed = `${value.slice(0, middle)}${value[middle] === 'A' ? 'B' : 'A'}${value.slice(middle + 1)}`;
    browser.setCookie('localhost', names.signIn, changed);
    expectRefusal(await browser.request(callback), 400, 'login_state_invalid');

    // Another browser with its own binding cookie and a copy of this transaction.
    const thief = newBrowser();
    await thief.request(at(LOGIN));
    thief.setCookie('localhost', names.signIn, value);
    expectRefusal(await thief.request(callback), 400, 'login_state_invalid');

    // A transaction the other route made, with that route's binding value and state, presented here.
    const other = cookieNames(otherOrigin);
    const there = await browser.follow(
      new URL(`${otherOrigin}${LOGIN}`),
      'alice',
      (url) => url.origin === otherOrigin && url.pathname === CALLBACK,
    );
    const moved = new URL(`${origin}${CALLBACK}${there.url.search}`);
    browser.setCookie('localhost', names.binding, browser.cookie('localhost', other.binding));
    browser.setCookie('localhost', names.signIn, browser.cookie('localhost', other.signIn));
    expectRefusal(await browser.request(moved), 400, 'login_state_invalid');
    expect(await count('session#')).toBe(before);

    // None of it spent the transaction: the real one still finishes.
    browser.setCookie('localhost', names.binding, binding);
    browser.setCookie('localhost', names.signIn, value);
    expect((await browser.request(callback)).status).toBe(303);
    expect(await count('session#')).toBe(before + 1);
  });

  it('refuses a sign-in answer in another browser, and leaves it for the browser that started it', async () => {
    const alice = newBrowser();
    const callback = await signInUntilCallback(alice);
    const before = await count('session#');

    // No binding cookie at all.
    expectRefusal(await newBrowser().request(callback), 400, 'login_other_browser');
    // A binding cookie and a transaction of its own (it started a sign-in of its own): the answer
    // is not for its transaction.
    const other = newBrowser();
    await other.request(at(LOGIN));
    expect(other.cookie('localhost', names.binding)).toBeDefined();
    expect(other.cookie('localhost', names.binding)).not.toBe(alice.cookie('localhost', names.binding));
    expectRefusal(await other.request(callback), 400, 'login_state_invalid');
    // Its own transaction is still there for its own answer.
    expect(other.cookie('localhost', names.signIn)).toBeDefined();
    // A binding cookie that is not a well-formed value.
    const garbage = newBrowser();
    garbage.setCookie('localhost', names.binding, 'not-a-binding');
    expectRefusal(await garbage.request(callback), 400, 'login_other_browser');
    expect(await count('session#')).toBe(before);

    const rightful = await alice.request(callback);
    expect(rightful.status).toBe(303);
    expect(await count('session#')).toBe(before + 1);
  });

  it('refuses a sign-in answer that comes back after the transaction expired', async () => {
    const browser = newBrowser();
    const callback = await signInUntilCallback(browser);
    const before = await count('session#');
    skew = 11 * 60_000;
    try {
      expectRefusal(await browser.request(callback), 400, 'login_expired');
    } finally {
      skew = 0;
    }
    expect(await count('session#')).toBe(before);
  });

  it('shows a clear page when the person cancels at the IdP (error=access_denied)', async () => {
    const browser = newBrowser();
    const before = await count('session#');
    // Walk to the IdP's login form, then press its Cancel link instead of signing in.
    let res = await browser.request(at(LOGIN));
    while (res.status === 303 || res.status === 302) {
      res = await browser.request(new URL(res.headers.get('location')!, res.url));
    }
    const abort = /href="([^"]*\/abort)"/.exec(res.body)?.[1];
    expect(abort).toBeDefined();
    res = await browser.request(new URL(abort!, res.url));
    let answer: URL | undefined;
    while (res.status === 303 || res.status === 302) {
      const next = new URL(res.headers.get('location')!, res.url);
      if (next.pathname === CALLBACK) answer = next;
      res = await browser.request(next);
    }
    expect(answer?.searchParams.get('error')).toBe('access_denied');
    expectRefusal(res, 403, 'login_denied');
    expect(await count('session#')).toBe(before);

    // The same error without a state the gateway issued is refused as such, its text not echoed.
    const forged = await browser.request(
      at(`${CALLBACK}?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=${randomToken()}`),
    );
    expectRefusal(forged, 400, 'login_state_invalid');
    expect(forged.body).not.toContain('<b>no</b>');
  });

  it('refuses a sign-out without the page’s CSRF token or from another site, and keeps the session', async () => {
    const browser = await signedIn(newBrowser());
    const page = await browser.request(at('/.pomerium/connections'));
    const csrf = hiddenField(page.body, 'csrf');
    expect(csrf).toBeTruthy();
    const sessions = await count('session#');
    const form = { 'content-type': 'application/x-www-form-urlencoded' };

    const attempts: Array<{ body?: URLSearchParams; headers?: Record<string, string> }> = [
      { headers: form },
      { body: new URLSearchParams({ csrf: 'wrong' }) },
      { body: new URLSearchParams({ csrf: csrf! }), headers: { origin: 'https://evil.example' } },
      { body: new URLSearchParams({ csrf: csrf! }), headers: { 'sec-fetch-site': 'cross-site' } },
    ];
    for (const attempt of attempts) {
      const res = await browser.request(at('/.pomerium/logout'), { method: 'POST', ...attempt });
      expectRefusal(res, 403, 'csrf');
      expect(res.headers.getSetCookie()).toEqual([]);
    }
    expect(await count('session#')).toBe(sessions);
    expect(await connectionsStatus(browser)).toEqual({ status: 200, error: undefined });
  });

  it('signs out with the page’s CSRF token: the session is gone, even for a kept copy of the cookie', async () => {
    const browser = await signedIn(newBrowser());
    const session = browser.cookie('localhost', names.session)!;
    const csrf = hiddenField((await browser.request(at('/.pomerium/connections'))).body, 'csrf');
    const sessions = await count('session#');
    const res = await browser.request(at('/.pomerium/logout'), {
      method: 'POST',
      body: new URLSearchParams({ csrf: csrf! }),
      headers: { origin },
    });
    expect(res.status).toBe(200);
    expect(res.body).toContain('Signed out');
    expect(res.headers.getSetCookie().some((c) => c.startsWith(`${names.session}=;`))).toBe(true);
    expect(browser.cookie('localhost', names.session)).toBeUndefined();
    expect(await count('session#')).toBe(sessions - 1);

    browser.setCookie('localhost', names.session, session);
    expect(await connectionsStatus(browser)).toEqual({ status: 401, error: 'login_required' });
  });

  it('answers oversized query strings and cookies with a clean 4xx', async () => {
    const browser = newBrowser();
    await signInUntilCallback(browser);
    const sessions = await count('session#');
    const logins = await count('login#');

    expectRefusal(
      await browser.request(at(`${LOGIN}?return_to=/${'a'.repeat(5000)}`)),
      400,
      'invalid_return_to',
    );
    expectRefusal(
      await browser.request(at(`${CALLBACK}?code=c&state=${'A'.repeat(5000)}`)),
      400,
      'login_state_invalid',
    );
    // Beyond the server's header limit: refused before any handler runs.
    for (const path of [
      `${LOGIN}?return_to=/${'a'.repeat(40_000)}`,
      `${CALLBACK}?state=${'A'.repeat(40_000)}`,
    ]) {
      const res = await browser.request(at(path));
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }

    // Regression: a large Cookie header (many parent-domain cookies) used to be ignored whole, so
    // such a browser could never sign in. A 5 KB filler cookie does not get in the way.
    const callback = await signInUntilCallback(browser);
    browser.setCookie('localhost', 'filler', 'x'.repeat(5000));
    expect((await browser.request(callback)).status).toBe(303);
    // A 10 KB one used to work here too (the cap was 32 KiB), but API Gateway refuses a request
    // line plus headers past 10,240 bytes: the local gateway refuses it as well (431), so no flow
    // works only locally.
    browser.setCookie('localhost', 'filler', 'x'.repeat(10_000));
    const tooLarge = await browser.request(at('/.pomerium/connections'));
    expect(tooLarge.status).toBe(431);
    expect(JSON.parse(tooLarge.body)).toEqual({ message: 'Request Header Fields Too Large' });
    // Past the server's header limit the request is refused before any handler runs.
    browser.setCookie('localhost', 'filler', 'x'.repeat(40_000));
    const huge = await browser.request(at('/.pomerium/connections'));
    expect(huge.status).toBeGreaterThanOrEqual(400);
    expect(huge.status).toBeLessThan(500);

    expect(await count('session#')).toBe(sessions + 1);
    expect(await count('login#')).toBe(logins);
  });

  it('answers the wrong method at the sign-in endpoints with 405 and Allow', async () => {
    const browser = newBrowser();
    for (const [path, method, allow] of [
      [LOGIN, 'POST', 'GET'],
      [CALLBACK, 'POST', 'GET'],
      ['/.pomerium/logout', 'PUT', 'GET, POST'],
    ] as const) {
      const res = await browser.request(at(path), { method });
      expectCode(res, 405, 'method_not_allowed');
      expect(res.headers.get('allow')).toBe(allow);
    }
  });
});
