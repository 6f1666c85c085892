import { randomBytes } from 'node:crypto';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClientDocuments } from '../../functions/core/authorization/client-documents.ts';
import { createClientResolver } from '../../functions/core/authorization/clients.ts';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { caFetch, type HttpBrowser, pkcePair } from '../support/http-browser.ts';
import { expectRefusal } from '../support/refusals.ts';

/**
 * What the gateway's authorization server refuses before a person is even asked: blocked clients,
 * client documents it will not use (wrong client_id, oversized, redirecting, slow, on a private
 * address), registration when it is off, redirect URIs the client never listed, requests without
 * PKCE S256 or for another route's resource, and hostile input at the token and registration
 * endpoints. Refusals that cannot trust the redirect URI are pages (never a redirect); the rest go
 * back to the client with `state` and `iss`.
 * Nothing is issued or stored, no secret is echoed, and nothing is ever a 500 or a stack trace.
 */

const REDIRECT = 'http://127.0.0.1:7777/callback';

/** Items the authorization server keeps, by kind (`grant#` partitions hold grants and consents). */
async function counts(fx: AuthorizationFixture): Promise<Record<string, number>> {
  const out: Record<string, number> = { code: 0, grant: 0, consent: 0, refresh: 0, client: 0 };
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await fx.gateway.dynamo.client.send(
      new ScanCommand({
        TableName: fx.gateway.dynamo.tableName,
        ProjectionExpression: 'pk, sk',
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      const pk = item.pk?.S ?? '';
      const sk = item.sk?.S ?? '';
      const kind = pk.slice(0, pk.indexOf('#'));
      const key = kind === 'grant' ? sk.slice(0, sk.indexOf('#')) : kind;
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

function authorizeUrl(fx: AuthorizationFixture, params: Record<string, string | undefined>): URL {
  const url = new URL('/.pomerium/mcp/authorize', fx.A);
  const all = {
    response_type: 'code',
    redirect_uri: REDIRECT,
    code_challenge: pkcePair().challenge,
    code_challenge_method: 'S256',
    state: randomBytes(8).toString('hex'),
    resource: fx.mcp(fx.A),
    ...params,
  };
  for (const [key, value] of Object.entries(all)) if (value !== undefined) url.searchParams.set(key, value);
  return url;
}

/** A GET of the authorize endpoint answered with an error page: no redirect, nothing stored. */
async function expectRefusalPage(
  fx: AuthorizationFixture,
  browser: HttpBrowser,
  url: URL,
  status: number,
  code: string,
): Promise<string> {
  const before = await counts(fx);
  const res = await browser.request(url);
  expectRefusal(res, status, code);
  expect(res.headers.get('location')).toBeNull();
  expectClean(res.body);
  expect(await counts(fx)).toEqual(before);
  return res.body;
}

describe('authorize refuses client documents, redirect URIs and requests it cannot use', () => {
  let fx: AuthorizationFixture;
  let browser: HttpBrowser;
  let goodClient: string;

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      config: () => ({
        mcpClients: [{ clientId: 'acme-desktop', name: 'Acme', redirectUris: ['http://127.0.0.1/callback'] }],
      }),
    });
    browser = fx.browser();
    goodClient = fx.documents.publish('/clients/good.json', [REDIRECT]);
  });

  afterAll(async () => {
    await fx?.stop();
  });

  it('refuses a document whose client_id is not its URL with a page, and does not cache the failure', async () => {
    const path = '/clients/mismatch.json';
    const clientId = fx.documents.publish(path, [REDIRECT], {
      document: {
        client_id: 'https://elsewhere.example/client.json',
        client_name: 'Impostor',
        redirect_uris: [REDIRECT],
      },
    });
    const body = await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: clientId }),
      400,
      'client_document_invalid',
    );
    expect(body).toContain('doc.client_id_mismatch');
    await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: clientId }),
      400,
      'client_document_invalid',
    );
    expect(fx.documents.hits.get(path)).toBe(2);
  });

  it('refuses a document larger than 5 KiB', async () => {
    const clientId = fx.documents.publish('/clients/oversized.json', [REDIRECT], { bodyBytes: 6000 });
    const body = await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: clientId }),
      400,
      'client_document_unavailable',
    );
    expect(body).toContain('fetch.too_large');
  });

  it('refuses a document that redirects, without following the redirect', async () => {
    const target = fx.documents.publish('/clients/redirect-target.json', [REDIRECT]);
    const clientId = fx.documents.publish('/clients/redirecting.json', [REDIRECT], { redirectTo: target });
    const body = await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: clientId }),
      400,
      'client_document_unavailable',
    );
    expect(body).toContain('fetch.redirect_refused');
    expect(fx.documents.hits.get('/clients/redirecting.json')).toBe(1);
    expect(fx.documents.hits.get('/clients/redirect-target.json')).toBeUndefined();
  });

  // The gateway's fetch timeout is 10 s and not configurable: the slow case runs at unit level,
  // through the same document cache and client resolver, against the same document host.
  it('gives up on a slow document at the fetch timeout and does not cache the failure (unit level)', async () => {
    const path = '/clients/slow.json';
    const clientId = fx.documents.publish(path, [REDIRECT], { delayMs: 5000 });
    const documents = createClientDocuments({
      fetchOptions: { timeoutMs: 1000, allowPrivateNetwork: true, ca: fx.cert.ca },
    });
    const resolve = createClientResolver({
      documents,
      registered: { register: () => Promise.reject(new Error('unused')), get: async () => undefined },
    });
    const started = Date.now();
    expect(await resolve(clientId, fx.A)).toMatchObject({
      ok: false,
      code: 'client_document_unavailable',
      rule: 'fetch.timeout',
    });
    expect(Date.now() - started).toBeLessThan(4000);
    // Once the host answers promptly the same cache fetches again: the failure was not kept.
    fx.documents.publish(path, [REDIRECT]);
    expect(await resolve(clientId, fx.A)).toMatchObject({ ok: true, client: { clientId } });
  });

  it('refuses a redirect URI the document does not list with a 400 page, never a redirect', async () => {
    for (const redirectUri of ['https://evil.example/callback', 'http://127.0.0.1:7777/other']) {
      const body = await expectRefusalPage(
        fx,
        browser,
        authorizeUrl(fx, { client_id: goodClient, redirect_uri: redirectUri }),
        400,
        'redirect_uri_unregistered',
      );
      expect(body).not.toContain('evil.example');
    }
  });

  it('refuses a parameter sent twice with a page, before trusting any redirect URI', async () => {
    const url = authorizeUrl(fx, { client_id: goodClient });
    url.searchParams.append('redirect_uri', 'https://evil.example/callback');
    await expectRefusalPage(fx, browser, url, 400, 'parameter_repeated');
  });

  /**
   * An authorize GET whose error goes back to the client: error, state, iss, and no code. Only for
   * a client whose redirect URIs the operator vouches for (here a configured one).
   */
  async function expectClientError(params: Record<string, string | undefined>, error: string, code: string) {
    const before = await counts(fx);
    const state = randomBytes(8).toString('hex');
    const res = await browser.request(authorizeUrl(fx, { client_id: 'acme-desktop', state, ...params }));
    // The error travels in the redirect (RFC 6749 §4.1.2.1); the gateway's code in its header.
    expectRefusal(res, 303, code);
    const back = new URL(res.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get('error')).toBe(error);
    expect(back.searchParams.get('state')).toBe(state);
    expect(back.searchParams.get('iss')).toBe(fx.A);
    expect(back.searchParams.has('code')).toBe(false);
    expect(await counts(fx)).toEqual(before);
  }

  it('sends a request without code_challenge back to the client with invalid_request, state and iss', async () => {
    await expectClientError({ code_challenge: undefined }, 'invalid_request', 'pkce_required');
  });

  it('sends a request with code_challenge_method=plain back to the client with invalid_request', async () => {
    const { verifier } = pkcePair();
    await expectClientError(
      { code_challenge: verifier, code_challenge_method: 'plain' },
      'invalid_request',
      'pkce_method_unsupported',
    );
  });

  it('sends a request for another route’s resource back to the client with invalid_target', async () => {
    await expectClientError({ resource: fx.mcp(fx.B) }, 'invalid_target', 'resource_invalid');
  });

  // Regression (attacker review): an unlisted document client, or a self-registered one, chooses its
  // own redirect URI; sending errors there unprompted made the gateway an open redirector.
  it('shows the same errors as a page for an unlisted CIMD client, never redirecting to its URI', async () => {
    const { verifier } = pkcePair();
    await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: goodClient, code_challenge: undefined }),
      400,
      'pkce_required',
    );
    await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: goodClient, code_challenge: verifier, code_challenge_method: 'plain' }),
      400,
      'pkce_method_unsupported',
    );
    await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: goodClient, response_type: 'token' }),
      400,
      'response_type_unsupported',
    );
  });

  it('shows errors as a page for a dynamically registered client pointing at an attacker’s site', async () => {
    const res = await caFetch(browser.agent)(`${fx.A}/.pomerium/mcp/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Phish', redirect_uris: ['https://evil.example/login'] }),
    });
    const { client_id } = (await res.json()) as { client_id: string };
    const body = await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id, redirect_uri: 'https://evil.example/login', response_type: 'x' }),
      400,
      'response_type_unsupported',
    );
    expect(body).not.toContain('evil.example/login?');
  });

  describe('hostile input at the token and registration endpoints', () => {
    async function send(path: string, body: string, headers: Record<string, string>) {
      const res = await caFetch(browser.agent)(`${fx.A}${path}`, { method: 'POST', headers, body });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text };
    }

    const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
    const JSON_TYPE = { 'content-type': 'application/json' };
    const verifier = pkcePair().verifier;
    const code = randomBytes(32).toString('base64url');
    const grant = `grant_type=authorization_code&client_id=acme-desktop&redirect_uri=${encodeURIComponent(REDIRECT)}&code=${code}&code_verifier=${verifier}`;

    async function expectRefused(
      path: string,
      body: string,
      headers: Record<string, string>,
      status: number,
      error: string,
      refusal: string,
    ) {
      const before = await counts(fx);
      const res = await send(path, body, headers);
      expectRefusal(res, status, refusal);
      // RFC 6749 §5.2: `error` stays the RFC's code; the gateway's own is in the header.
      expect(JSON.parse(res.text).error).toBe(error);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expectClean(res.text, [code, verifier]);
      expect(await counts(fx)).toEqual(before);
      return res;
    }

    const TOKEN = '/.pomerium/mcp/token';
    const REGISTER = '/.pomerium/mcp/register';

    it('refuses a token request sent as JSON with invalid_request', async () => {
      const body = JSON.stringify(Object.fromEntries(new URLSearchParams(grant)));
      await expectRefused(TOKEN, body, JSON_TYPE, 400, 'invalid_request', 'form_not_urlencoded');
    });

    it('refuses a token request with a repeated parameter with invalid_request', async () => {
      await expectRefused(TOKEN, `${grant}&code=${code}`, FORM, 400, 'invalid_request', 'parameter_repeated');
      await expectRefused(
        TOKEN,
        `${grant}&client_id=other`,
        FORM,
        400,
        'invalid_request',
        'parameter_repeated',
      );
    });

    it('refuses a token request body over 16 KiB with 413', async () => {
      await expectRefused(
        TOKEN,
        `${grant}&pad=${'x'.repeat(17_000)}`,
        FORM,
        413,
        'invalid_request',
        'request_too_large',
      );
    });

    it('refuses an unknown grant_type with unsupported_grant_type', async () => {
      for (const type of ['password', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']) {
        const body = grant.replace('grant_type=authorization_code', `grant_type=${encodeURIComponent(type)}`);
        await expectRefused(TOKEN, body, FORM, 400, 'unsupported_grant_type', 'grant_type_unsupported');
      }
    });

    it('refuses a client that sends a secret with 401 invalid_client and a WWW-Authenticate challenge', async () => {
      // A secret in the body used no Authorization scheme: 401 without a challenge (RFC 6749 §5.2 "may").
      const inBody = await expectRefused(
        TOKEN,
        `${grant}&client_secret=s3cret`,
        FORM,
        401,
        'invalid_client',
        'client_secret_refused',
      );
      expect(inBody.text).not.toContain('s3cret');
      const basic = `Basic ${Buffer.from('acme-desktop:s3cret').toString('base64')}`;
      const inHeader = await expectRefused(
        TOKEN,
        grant,
        { ...FORM, authorization: basic },
        401,
        'invalid_client',
        'client_secret_refused',
      );
      expect(inHeader.headers.get('www-authenticate')).toBeTruthy();
    });

    // RFC 6749 §5.2: a client that authenticated with the Authorization header MUST get a 401 whose
    // WWW-Authenticate names the scheme it used (regression: the gateway once answered `Bearer`).
    it('answers a secret sent with HTTP Basic with a challenge in the Basic scheme the client used', async () => {
      const basic = `Basic ${Buffer.from('acme-desktop:s3cret').toString('base64')}`;
      const res = await expectRefused(
        TOKEN,
        grant,
        { ...FORM, authorization: basic },
        401,
        'invalid_client',
        'client_secret_refused',
      );
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic\b/i);
    });

    it('refuses garbage codes, bad percent-escapes and an overlong client_id without a 500', async () => {
      await expectRefused(
        TOKEN,
        grant.replace(code, '%ff%fe%zz'),
        FORM,
        400,
        'invalid_grant',
        'code_invalid',
      );
      await expectRefused(
        TOKEN,
        grant.replace(verifier, 'short'),
        FORM,
        400,
        'invalid_grant',
        'code_verifier_invalid',
      );
      const long = grant.replace('client_id=acme-desktop', `client_id=${'a'.repeat(3000)}`);
      const res = await expectRefused(TOKEN, long, FORM, 401, 'invalid_client', 'client_invalid');
      // Why the client was not accepted is the resolver's code, as the detail.
      expect(JSON.parse(res.text).error_description).toMatch(/\(client_id_invalid\)$/);
    });

    it('refuses to register an http redirect URI that is not loopback with invalid_redirect_uri', async () => {
      const body = JSON.stringify({ client_name: 'Plain', redirect_uris: ['http://app.example/callback'] });
      await expectRefused(REGISTER, body, JSON_TYPE, 400, 'invalid_redirect_uri', 'redirect_uri_invalid');
    });

    it('refuses to register a redirect URI with a fragment, even a bare "#"', async () => {
      for (const uri of ['https://app.example/callback#frag', 'https://app.example/callback#']) {
        const body = JSON.stringify({ client_name: 'Fragment', redirect_uris: [uri] });
        await expectRefused(REGISTER, body, JSON_TYPE, 400, 'invalid_redirect_uri', 'redirect_uri_invalid');
      }
    });

    it('refuses a registration that is not JSON with invalid_client_metadata', async () => {
      const notJson = ['invalid_client_metadata', 'client_metadata_not_json'] as const;
      await expectRefused(REGISTER, '{"redirect_uris": [', JSON_TYPE, 400, ...notJson);
      await expectRefused(REGISTER, 'redirect_uris=https://a.example/cb', FORM, 400, ...notJson);
      await expectRefused(
        REGISTER,
        '[]',
        JSON_TYPE,
        400,
        'invalid_client_metadata',
        'client_metadata_invalid',
      );
    });
  });
});

describe('a closed trust policy: a blocked wildcard, no private addresses, no registration', () => {
  let fx: AuthorizationFixture;
  let browser: HttpBrowser;

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      config: () => ({
        trustPolicy: {
          blockedDomains: ['*.blocked.example'],
          allowPrivateNetwork: false,
          allowDynamicRegistration: false,
        },
      }),
    });
    browser = fx.browser();
  });

  afterAll(async () => {
    await fx?.stop();
  });

  // The config accepts dotted domain names only (not "localhost"), so the blocked client cannot
  // live on the local document host: what shows it was refused before any fetch is the code, set
  // apart from its apex's, which the gateway went on to fetch (and could not resolve).
  it('refuses a client under a blocked wildcard domain with a 403 page, before fetching anything', async () => {
    const clientId = 'https://tools.blocked.example/client.json';
    await expectRefusalPage(fx, browser, authorizeUrl(fx, { client_id: clientId }), 403, 'client_blocked');
  });

  it('does not block the apex of a wildcard: blocked.example is fetched (and fails there)', async () => {
    const clientId = 'https://blocked.example/client.json';
    const body = await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: clientId }),
      400,
      'client_document_unavailable',
    );
    expect(body).toMatch(/fetch\.(dns|network|timeout)/);
  });

  it('refuses a document on a private address with client_document_unavailable (ssrf.private_address), never connecting', async () => {
    const path = '/clients/private.json';
    const clientId = fx.documents.publish(path, [REDIRECT]);
    const body = await expectRefusalPage(
      fx,
      browser,
      authorizeUrl(fx, { client_id: clientId }),
      400,
      'client_document_unavailable',
    );
    expect(body).toContain('ssrf.private_address');
    expect(fx.documents.hits.get(path)).toBeUndefined();
  });

  it('refuses dynamic registration with 403 access_denied when allowDynamicRegistration is false', async () => {
    const before = await counts(fx);
    const res = await caFetch(browser.agent)(`${fx.A}/.pomerium/mcp/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Sneaky', redirect_uris: [REDIRECT] }),
    });
    const text = await res.text();
    expectRefusal(res, 403, 'registration_disabled');
    expect(JSON.parse(text).error).toBe('access_denied');
    expectClean(text);
    expect(await counts(fx)).toEqual(before);
  });
});
