import { randomBytes } from 'node:crypto';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { caFetch, consentForm, type HttpBrowser, pkcePair } from '../support/http-browser.ts';
import { expectRefusal } from '../support/refusals.ts';

/**
 * What the gateway's authorization server refuses once a client is known (and, first, an unlisted
 * client under `allowUnlisted: false`): codes redeemed wrongly or twice, refresh tokens replayed,
 * consent answers that did not come from this browser's consent page, tokens of one route at
 * another, and revocations by the wrong client. Every refusal says what it refused with its RFC
 * code, issues and stores nothing, and echoes no secret it was sent.
 */
describe('authorization server refusals: unlisted clients, codes, refresh tokens, consent, revocation', () => {
  let fx: AuthorizationFixture;
  let alice: HttpBrowser;
  const REDIRECT = 'http://127.0.0.1:7777/callback';
  const CLIENT = 'acme-desktop';
  const OTHER = 'other-app';

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      config: () => ({
        trustPolicy: { allowUnlisted: false },
        mcpClients: [
          { clientId: CLIENT, name: 'Acme Desktop', redirectUris: ['http://127.0.0.1/callback'] },
          { clientId: OTHER, name: 'Other App', redirectUris: ['http://127.0.0.1/callback'] },
          { clientId: 'consent-app', name: 'Consent App', redirectUris: ['http://127.0.0.1/callback'] },
        ],
      }),
    });
    alice = fx.browser();
  });

  afterAll(async () => {
    await fx?.stop();
  });

  /** Items the authorization server keeps, by kind (`grant#` partitions hold grants and consents). */
  /** Items by kind; grants counted only while alive (revocation leaves a tombstone). */
  async function counts(): Promise<Record<string, number>> {
    const out: Record<string, number> = { code: 0, grant: 0, consent: 0, refresh: 0, client: 0 };
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await fx.gateway.dynamo.client.send(
        new ScanCommand({
          TableName: fx.gateway.dynamo.tableName,
          ProjectionExpression: 'pk, sk, revoked',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const pk = item.pk?.S ?? '';
        const sk = item.sk?.S ?? '';
        const kind = pk.slice(0, pk.indexOf('#'));
        const key = kind === 'grant' ? sk.slice(0, sk.indexOf('#')) : kind;
        // A revoked grant stays as a tombstone (so a late creation cannot revive it): not a live grant.
        if (item.revoked?.BOOL === true) continue;
        if (key in out) out[key]! += 1;
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** No stack trace, no exception text, none of the secrets that were sent. */
  function expectClean(body: string, secrets: readonly string[] = []) {
    expect(body).not.toMatch(/\s+at .+:\d+:\d+/);
    expect(body).not.toContain('Error:');
    for (const secret of secrets) expect(body).not.toContain(secret);
  }

  async function post(origin: string, path: string, body: URLSearchParams) {
    const res = await caFetch(alice.agent)(`${origin}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      text,
      json: JSON.parse(text) as Record<string, string>,
    };
  }

  type Answer = Awaited<ReturnType<typeof post>>;

  /** An RFC 6749 §5.2 error: its status, the RFC `error`, and the gateway's code in its header. */
  function expectOAuthError(
    res: Answer,
    status: number,
    error: string,
    refusal: string,
    secrets: readonly string[] = [],
  ) {
    expectRefusal(res, status, refusal);
    expect(res.json.error).toBe(error);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expectClean(res.text, secrets);
  }

  const token = (fields: Record<string, string>, origin = fx.A) =>
    post(origin, '/.pomerium/mcp/token', new URLSearchParams(fields));
  const redeem = (code: string, verifier: string, extra: Record<string, string> = {}, origin = fx.A) =>
    token(
      {
        grant_type: 'authorization_code',
        client_id: CLIENT,
        code,
        code_verifier: verifier,
        redirect_uri: REDIRECT,
        ...extra,
      },
      origin,
    );
  const refresh = (refreshToken: string, clientId = CLIENT, origin = fx.A) =>
    token({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }, origin);
  const revoke = (value: string, clientId: string) =>
    post(fx.A, '/.pomerium/mcp/revoke', new URLSearchParams({ token: value, client_id: clientId }));

  function authorizeUrl(origin: string, params: Record<string, string | undefined>): URL {
    const url = new URL('/.pomerium/mcp/authorize', origin);
    const all = {
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge_method: 'S256',
      state: randomBytes(8).toString('hex'),
      resource: fx.mcp(origin),
      ...params,
    };
    for (const [key, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(key, value);
    return url;
  }

  /** Alice authorizes `clientId` (sign-in, consent and the upstream connect chained the first time). */
  async function authorizeCode(clientId = CLIENT, origin = fx.A) {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(8).toString('hex');
    const url = authorizeUrl(origin, { client_id: clientId, code_challenge: challenge, state });
    const callback = await alice.authorize(url, REDIRECT, 'alice', { consent: 'allow' });
    expect(callback.searchParams.get('state')).toBe(state);
    return { code: callback.searchParams.get('code')!, verifier };
  }

  async function tokens(origin = fx.A) {
    const { code, verifier } = await authorizeCode(CLIENT, origin);
    const res = await redeem(code, verifier, {}, origin);
    expect(res.status).toBe(200);
    return { access: res.json.access_token!, refresh: res.json.refresh_token! };
  }

  async function expectRefusalPage(url: URL, status: number, code: string) {
    const before = await counts();
    const res = await alice.request(url);
    expectRefusal(res, status, code);
    expect(res.headers.get('location')).toBeNull();
    expectClean(res.body);
    expect(await counts()).toEqual(before);
  }

  describe('the trust policy', () => {
    it('refuses an unlisted client when allowUnlisted is false, without fetching its document', async () => {
      // Served on localhost (which the development certificate covers) and the fixture allows
      // private addresses: a fetch would have reached the host and been counted.
      const path = '/clients/unlisted.json';
      const clientId = `${fx.documents.origin}${path}`;
      fx.documents.publish(path, [REDIRECT], {
        document: { client_id: clientId, client_name: 'Unlisted', redirect_uris: [REDIRECT] },
      });
      const { challenge } = pkcePair();
      await expectRefusalPage(
        authorizeUrl(fx.A, { client_id: clientId, code_challenge: challenge }),
        403,
        'client_unlisted',
      );
      const res = await token({ grant_type: 'authorization_code', client_id: clientId, code: 'x' });
      expectOAuthError(res, 401, 'invalid_client', 'client_invalid');
      expect(fx.documents.hits.get(path)).toBeUndefined();
    });
  });

  describe('authorization codes', () => {
    it('refuses a wrong code_verifier with invalid_grant, and the rightful client can still redeem the code', async () => {
      const { code, verifier } = await authorizeCode();
      const wrong = pkcePair().verifier;
      const before = await counts();
      expectOAuthError(await redeem(code, wrong), 400, 'invalid_grant', 'code_invalid', [code, wrong]);
      expect(await counts()).toEqual(before);
      expect((await redeem(code, verifier)).status).toBe(200);
    });

    it('refuses a code used twice with invalid_grant and revokes what the first exchange issued', async () => {
      const { code, verifier } = await authorizeCode();
      const first = await redeem(code, verifier);
      expect(first.status).toBe(200);
      const before = await counts();
      const second = await redeem(code, verifier);
      expectOAuthError(second, 400, 'invalid_grant', 'code_replayed', [
        code,
        verifier,
        first.json.refresh_token!,
      ]);
      expect(await counts()).toEqual({ ...before, grant: before.grant! - 1 });
      const after = await refresh(first.json.refresh_token!);
      expectOAuthError(after, 400, 'invalid_grant', 'refresh_token_invalid', [first.json.refresh_token!]);
    });

    it('refuses a code presented by another client, and the rightful client can still redeem it', async () => {
      const { code, verifier } = await authorizeCode();
      const before = await counts();
      expectOAuthError(
        await redeem(code, verifier, { client_id: OTHER }),
        400,
        'invalid_grant',
        'code_invalid',
        [code, verifier],
      );
      expect(await counts()).toEqual(before);
      expect((await redeem(code, verifier)).status).toBe(200);
    });

    it('refuses a code presented with another redirect URI (even one the client may use), and it stays redeemable', async () => {
      const { code, verifier } = await authorizeCode();
      const before = await counts();
      const res = await redeem(code, verifier, { redirect_uri: 'http://127.0.0.1:7778/callback' });
      expectOAuthError(res, 400, 'invalid_grant', 'code_invalid', [code, verifier]);
      expect(await counts()).toEqual(before);
      expect((await redeem(code, verifier)).status).toBe(200);
    });

    it('refuses a resource of another route with invalid_target, at authorize (redirect) and at token', async () => {
      const { challenge } = pkcePair();
      const res = await alice.request(
        authorizeUrl(fx.A, {
          client_id: CLIENT,
          code_challenge: challenge,
          state: 's1',
          resource: fx.mcp(fx.B),
        }),
      );
      expectRefusal(res, 303, 'resource_invalid');
      const back = new URL(res.headers.get('location')!);
      expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
      expect(back.searchParams.get('error')).toBe('invalid_target');
      expect(back.searchParams.get('state')).toBe('s1');
      expect(back.searchParams.get('iss')).toBe(fx.A);
      expect(back.searchParams.has('code')).toBe(false);

      const { code, verifier } = await authorizeCode();
      const before = await counts();
      expectOAuthError(
        await redeem(code, verifier, { resource: fx.mcp(fx.B) }),
        400,
        'invalid_target',
        'resource_invalid',
        [code, verifier],
      );
      expect(await counts()).toEqual(before);
      expect((await redeem(code, verifier, { resource: fx.mcp(fx.A) })).status).toBe(200);
    });

    it('refuses a code redeemed without redirect_uri when the authorization request named one, and it stays redeemable', async () => {
      const { code, verifier } = await authorizeCode();
      const before = await counts();
      const res = await token({
        grant_type: 'authorization_code',
        client_id: CLIENT,
        code,
        code_verifier: verifier,
      });
      // The code's binding (its redirect URI) fails.
      expectRefusal(res, 400, 'code_invalid');
      expect(res.json.error).toBe('invalid_grant');
      expectClean(res.text, [code, verifier]);
      expect(await counts()).toEqual(before);
      expect((await redeem(code, verifier)).status).toBe(200);
    });

    // RFC 6749 §4.1.3 (and OAuth 2.1 §4.1.3): redirect_uri is required at the token endpoint only
    // if the authorization request carried it. The gateway accepts an authorization request without
    // it (the client has one redirect URI) but then refuses every token request without it.
    it('redeems a code without redirect_uri when the authorization request named none', async () => {
      const { verifier, challenge } = pkcePair();
      const registered = 'http://127.0.0.1/callback';
      const url = authorizeUrl(fx.A, {
        client_id: CLIENT,
        code_challenge: challenge,
        redirect_uri: undefined,
      });
      const callback = await alice.authorize(url, registered, 'alice', { consent: 'allow' });
      const code = callback.searchParams.get('code')!;
      const res = await token({
        grant_type: 'authorization_code',
        client_id: CLIENT,
        code,
        code_verifier: verifier,
      });
      expectClean(res.text, [code, verifier]);
      expect(res.json.error).toBeUndefined();
      expect(res.status).toBe(200);
    });

    it('refuses a code of route A at route B’s token endpoint, and route A still redeems it', async () => {
      const { code, verifier } = await authorizeCode();
      const before = await counts();
      expectOAuthError(await redeem(code, verifier, {}, fx.B), 400, 'invalid_grant', 'code_invalid', [
        code,
        verifier,
      ]);
      expect(await counts()).toEqual(before);
      expect((await redeem(code, verifier)).status).toBe(200);
    });
  });

  describe('refresh tokens', () => {
    it('refuses a refresh token replayed after rotation, and then the whole grant is dead', async () => {
      const { refresh: first } = await tokens();
      const rotated = await refresh(first);
      expect(rotated.status).toBe(200);
      const second = rotated.json.refresh_token!;
      expect(second).not.toBe(first);
      const before = await counts();
      expectOAuthError(await refresh(first), 400, 'invalid_grant', 'refresh_token_reused', [first, second]);
      expectOAuthError(await refresh(second), 400, 'invalid_grant', 'refresh_token_invalid', [first, second]);
      expect(await counts()).toEqual({ ...before, grant: before.grant! - 1 });
    });

    it('refuses a refresh token of route A at route B and of another client, leaving it valid at A', async () => {
      const { refresh: value } = await tokens();
      const before = await counts();
      expectOAuthError(await refresh(value, CLIENT, fx.B), 400, 'invalid_grant', 'refresh_token_invalid', [
        value,
      ]);
      expectOAuthError(await refresh(value, OTHER), 400, 'invalid_grant', 'refresh_token_invalid', [value]);
      expect(await counts()).toEqual(before);
      expect((await refresh(value)).status).toBe(200);
    });
  });

  describe('the consent form', () => {
    let url: URL;
    let page: string;
    const AUTHORIZE = () => new URL('/.pomerium/mcp/authorize', fx.A);

    beforeAll(async () => {
      url = authorizeUrl(fx.A, { client_id: 'consent-app', code_challenge: pkcePair().challenge });
      const shown = await alice.follow(url, 'alice');
      expect(shown.status).toBe(200);
      page = shown.html!;
      expect(page).toContain('name="decision"');
    });

    async function expectCsrfRefusal(browser: HttpBrowser, form: URLSearchParams, origin: string) {
      const before = await counts();
      const res = await browser.request(AUTHORIZE(), { method: 'POST', body: form, headers: { origin } });
      expectRefusal(res, 403, 'csrf');
      expect(res.headers.get('location')).toBeNull();
      expectClean(res.body);
      // No consent remembered, no code issued.
      expect(await counts()).toEqual(before);
    }

    it('refuses an Allow without the CSRF token (403 csrf page, no redirect)', async () => {
      const form = consentForm(page, 'allow');
      form.delete('csrf');
      await expectCsrfRefusal(alice, form, fx.A);
    });

    it('refuses an Allow with a wrong CSRF token', async () => {
      const form = consentForm(page, 'allow');
      form.set('csrf', randomBytes(32).toString('base64url'));
      await expectCsrfRefusal(alice, form, fx.A);
    });

    it('refuses an Allow with the CSRF token of this page posted from another browser signed in as another person', async () => {
      const bob = fx.browser();
      const his = await bob.follow(url, 'bob');
      expect(his.status).toBe(200);
      expect(his.html).toContain('name="decision"');
      await expectCsrfRefusal(bob, consentForm(page, 'allow'), fx.A);
    });

    it('refuses an Allow posted with Origin: https://evil.example, even with the right CSRF token', async () => {
      await expectCsrfRefusal(alice, consentForm(page, 'allow'), 'https://evil.example');
    });

    it('accepts the same form from this page (the refusals above were the CSRF check’s alone)', async () => {
      const res = await alice.request(AUTHORIZE(), {
        method: 'POST',
        body: consentForm(page, 'allow'),
        headers: { origin: fx.A },
      });
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).not.toContain('error=');
    });
  });

  it('answers a token of route A at route B’s MCP endpoint with 401 invalid_token', async () => {
    const { access } = await tokens();
    const call = (origin: string) =>
      caFetch(alice.agent)(fx.mcp(origin), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${access}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
    const res = await call(fx.B);
    const text = await res.text();
    expectRefusal(res, 401, 'token_invalid');
    const challenge = res.headers.get('www-authenticate')!;
    expect(challenge).toContain('error="invalid_token"');
    expect(challenge).toContain(`resource_metadata="${fx.B}/.well-known/oauth-protected-resource/mcp"`);
    expectClean(text, [access]);
    // The same token is accepted where it was issued (whatever the upstream then answers).
    const home = await call(fx.A);
    expect(home.status).not.toBe(401);
    expect(home.headers.get('www-authenticate')).toBeNull();
    await home.body?.cancel();
  });

  describe('revocation', () => {
    it('does nothing when another client revokes a refresh token: the token still works', async () => {
      const { refresh: value } = await tokens();
      const before = await counts();
      const res = await revoke(value, OTHER);
      expect(res.status).toBe(200);
      expect(res.json).toEqual({});
      expectClean(res.text, [value]);
      expect(await counts()).toEqual(before);
      expect((await refresh(value)).status).toBe(200);
    });

    it('revokes the whole grant when the rightful client revokes its refresh token', async () => {
      const { refresh: value } = await tokens();
      const before = await counts();
      const res = await revoke(value, CLIENT);
      expect(res.status).toBe(200);
      expectClean(res.text, [value]);
      expect(await counts()).toEqual({ ...before, grant: before.grant! - 1 });
      expectOAuthError(await refresh(value), 400, 'invalid_grant', 'refresh_token_invalid', [value]);
    });

    it('answers 200 for unknown, malformed and forged tokens and revokes nothing', async () => {
      const before = await counts();
      const forged = `${Buffer.from('{"alg":"ES256","typ":"at+jwt"}').toString('base64url')}.e30.AAAA`;
      for (const value of [randomBytes(32).toString('base64url'), 'not-a-token', 'a.b.c', forged]) {
        const res = await revoke(value, CLIENT);
        expect(res.status, value).toBe(200);
        expect(res.json).toEqual({});
        expectClean(res.text, [value]);
      }
      expect(await counts()).toEqual(before);
    });
  });
});
