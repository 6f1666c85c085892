import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sha256Base64url } from '../../../functions/core/crypto/hash.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { cookieNames } from '../../../functions/core/web/cookies.ts';
import { csrfToken } from '../../../functions/core/web/request-context.ts';
import { httpsCall } from '../../support/https.ts';
import { startTestGateway, type TestGateway } from '../../support/local-gateway.ts';
import { expectRefusal as expectCode, refusalOf } from '../../support/refusals.ts';

/**
 * The OAuth callback and the flows' entry points refuse hostile and replayed input with a clear
 * answer, and store nothing. State records and sessions are real items in DynamoDB Local; the
 * clock is injected to expire them.
 */
describe('OAuth callback refusals on the local gateway', () => {
  let gw: TestGateway;
  let now = Date.now();
  let origin: string;
  let ddb: DynamoDBDocumentClient;
  let names: { session: string; binding: string };
  let alice: string;
  let bob: string;
  const binding = randomToken();

  const call = (
    path: string,
    cookies: Record<string, string>,
    method = 'GET',
    headers: Record<string, string> = {},
  ) =>
    httpsCall(`${origin}${path}`, {
      ca: gw.cert.ca,
      method,
      headers: {
        ...headers,
        cookie: Object.entries(cookies)
          .map(([k, v]) => `${k}=${v}`)
          .join('; '),
      },
    });

  async function newState(
    userId = 'alice',
    returnTo = '/.pomerium/connections',
    issParameterSupported = false,
  ) {
    const { state } = await gw.gateway.services.states.createState({
      issParameterSupported,
      route: origin,
      userId,
      binding,
      codeVerifier: randomToken(),
      issuer: 'https://as.example.org',
      authorizationEndpoint: 'https://as.example.org/authorize',
      tokenEndpoint: 'https://as.example.org/token',
      redirectUri: `${origin}/.pomerium/oauth/callback`,
      resource: 'https://up.example.net/mcp',
      clientId: `${origin}/.well-known/mcp-client-metadata.json`,
      clientAuth: { method: 'none' },
      scopes: ['mcp:tools'],
      returnTo,
      resume: { kind: 'connect' },
    });
    return state;
  }

  const stateItemExists = async (state: string) =>
    Boolean(
      (
        await ddb.send(
          new GetCommand({
            TableName: gw.gateway.dynamo.tableName,
            Key: { pk: `state#${sha256Base64url(state)}`, sk: 'state' },
            ConsistentRead: true,
          }),
        )
      ).Item,
    );

  const vaultItems = async () =>
    (
      await ddb.send(
        new ScanCommand({
          TableName: gw.gateway.dynamo.tableName,
          FilterExpression: 'begins_with(pk, :v)',
          ExpressionAttributeValues: { ':v': 'vault#' },
        }),
      )
    ).Items ?? [];

  const expectRefusal = (
    res: { status: number; body: string; headers: Record<string, unknown> },
    status: number,
    code: string,
  ) => {
    expectCode(res, status, code);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body).not.toMatch(/at .+\.(ts|js):\d+/);
  };

  beforeAll(async () => {
    gw = await startTestGateway(1, ([from]) => [{ from: from!, to: 'https://up.example.net/mcp' }], {
      clock: { now: () => now },
    });
    origin = gw.origins[0]!;
    names = cookieNames(origin);
    ddb = DynamoDBDocumentClient.from(gw.gateway.dynamo.client);
    alice = (
      await gw.gateway.services.sessions.createSession({ userId: 'alice', issuer: 'https://idp.example' })
    ).id;
    bob = (await gw.gateway.services.sessions.createSession({ userId: 'bob', issuer: 'https://idp.example' }))
      .id;
  });
  afterAll(async () => {
    await gw?.stop();
  });
  beforeEach(() => {
    now = Date.now();
  });

  it('refuses forged, missing and malformed state', async () => {
    const cookies = { [names.session]: alice, [names.binding]: binding };
    expectRefusal(
      await call(`/.pomerium/oauth/callback?code=c&state=${randomToken()}`, cookies),
      400,
      'state_unknown',
    );
    expectRefusal(await call('/.pomerium/oauth/callback?code=c', cookies), 400, 'state_missing');
    expectRefusal(
      await call('/.pomerium/oauth/callback?code=c&state=%3Cscript%3E', cookies),
      400,
      'state_malformed',
    );
    expect(await vaultItems()).toEqual([]);
  });

  it('refuses a state issued to another browser and leaves it for the right one', async () => {
    const state = await newState();
    expectRefusal(
      await call(`/.pomerium/oauth/callback?code=c&state=${state}`, {
        [names.session]: alice,
        [names.binding]: randomToken(),
      }),
      400,
      'state_other_browser',
    );
    expectRefusal(
      await call(`/.pomerium/oauth/callback?code=c&state=${state}`, { [names.session]: alice }),
      400,
      'state_other_browser',
    );
    expect(await stateItemExists(state)).toBe(true);
  });

  it("refuses another user's state", async () => {
    const state = await newState('alice');
    expectRefusal(
      await call(`/.pomerium/oauth/callback?code=c&state=${state}`, {
        [names.session]: bob,
        [names.binding]: binding,
      }),
      400,
      'state_other_user',
    );
    expect(await stateItemExists(state)).toBe(true);
  });

  it('refuses an expired state even before DynamoDB TTL removes it', async () => {
    const state = await newState();
    now += 11 * 60_000;
    expectRefusal(
      await call(`/.pomerium/oauth/callback?code=c&state=${state}`, {
        [names.session]: alice,
        [names.binding]: binding,
      }),
      400,
      'state_expired',
    );
  });

  it('asks a browser without a session to sign in, without consuming the state', async () => {
    const state = await newState();
    expectRefusal(
      await call(`/.pomerium/oauth/callback?code=c&state=${state}`, { [names.binding]: binding }),
      401,
      'login_required',
    );
    expect(await stateItemExists(state)).toBe(true);
  });

  it('shows error=access_denied as a page, consumes the state, and a replay finds nothing', async () => {
    const state = await newState();
    const cookies = { [names.session]: alice, [names.binding]: binding };
    const denied = await call(
      `/.pomerium/oauth/callback?error=access_denied&error_description=%3Cb%3Eno%3C%2Fb%3E&state=${state}`,
      cookies,
    );
    expectRefusal(denied, 403, 'authorization_denied');
    // The upstream's RFC error code is the page's detail; its description is not shown.
    expect(denied.body).toContain('(<code>access_denied</code>)');
    expect(denied.body).not.toContain('<b>no</b>');
    expect(await stateItemExists(state)).toBe(false);
    expectRefusal(
      await call(`/.pomerium/oauth/callback?code=c&state=${state}`, cookies),
      400,
      'state_unknown',
    );
    expect(await vaultItems()).toEqual([]);
  });

  it('names an error the RFCs do not define as "other" instead of repeating it', async () => {
    const state = await newState();
    const res = await call(`/.pomerium/oauth/callback?error=%3Cscript%3Ex%3C%2Fscript%3E&state=${state}`, {
      [names.session]: alice,
      [names.binding]: binding,
    });
    expectRefusal(res, 403, 'authorization_denied');
    expect(res.body).toContain('(<code>other</code>)');
    expect(res.body).not.toContain('script');
  });

  it('refuses an answer whose iss names another authorization server (RFC 9207 mix-up)', async () => {
    const state = await newState();
    const res = await call(
      `/.pomerium/oauth/callback?code=c&state=${state}&iss=${encodeURIComponent('https://evil.example')}`,
      {
        [names.session]: alice,
        [names.binding]: binding,
      },
    );
    expectRefusal(res, 400, 'authorization_issuer_mismatch');
    expect(await vaultItems()).toEqual([]);
  });

  it('refuses an answer with a valid state but neither code nor error as a bad request', async () => {
    const state = await newState();
    const res = await call(`/.pomerium/oauth/callback?state=${state}`, {
      [names.session]: alice,
      [names.binding]: binding,
    });
    expectRefusal(res, 400, 'authorization_response_invalid');
    expect(await vaultItems()).toEqual([]);
  });

  it('requires iss when the authorization server advertised it', async () => {
    const state = await newState('alice', '/.pomerium/connections', true);
    const res = await call(`/.pomerium/oauth/callback?code=c&state=${state}`, {
      [names.session]: alice,
      [names.binding]: binding,
    });
    expectRefusal(res, 400, 'authorization_issuer_mismatch');
  });

  it('lets exactly one of 100 concurrent callbacks with one valid state consume it', async () => {
    const state = await newState();
    const cookies = { [names.session]: alice, [names.binding]: binding };
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        call(`/.pomerium/oauth/callback?error=access_denied&state=${state}`, cookies),
      ),
    );
    const consumed = results.filter((r) => refusalOf(r) === 'authorization_denied');
    const replays = results.filter((r) => refusalOf(r) === 'state_unknown');
    expect(consumed).toHaveLength(1);
    expect(replays).toHaveLength(99);
  });

  it('refuses return_to pointing off-origin, storing nothing', async () => {
    const countLogins = async () =>
      (
        await ddb.send(
          new ScanCommand({
            TableName: gw.gateway.dynamo.tableName,
            FilterExpression: 'begins_with(pk, :p) OR begins_with(pk, :s)',
            ExpressionAttributeValues: { ':p': 'login#', ':s': 'state#' },
            Select: 'COUNT',
          }),
        )
      ).Count;
    const before = await countLogins();
    for (const target of [
      '//evil.example',
      'https://evil.example',
      '/\\evil.example',
      '/\r\nSet-Cookie:x=y',
      'javascript:alert(1)',
      '/..//evil.example',
      '/%2e%2e//evil.example',
    ]) {
      // (the sign-in entry point's refusals are covered where an identity provider is configured)
      const res = await call(`/.pomerium/connect?return_to=${encodeURIComponent(target)}`, {
        [names.session]: alice,
      });
      expectRefusal(res, 400, 'invalid_return_to');
      expect(res.headers.location).toBeUndefined();
    }
    expect(await countLogins()).toBe(before);
  });

  it('answers wrong methods and unknown flow paths with clear errors', async () => {
    const post = await call('/.pomerium/oauth/callback', {}, 'POST');
    expectCode(post, 405, 'method_not_allowed');
    expect(post.headers.allow).toBe('GET');
    const get = await call('/.pomerium/disconnect', {}, 'GET');
    expectCode(get, 405, 'method_not_allowed');
    expect(get.headers.allow).toBe('POST');
  });

  it('says sign-in is not configured when there is no identity provider', async () => {
    const res = await call('/.pomerium/login', {});
    expectRefusal(res, 503, 'idp_not_configured');
  });

  it('refuses a disconnect without the page’s CSRF token or from another origin', async () => {
    const cookies = { [names.session]: alice };
    const noToken = await call('/.pomerium/disconnect', cookies, 'POST', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expectRefusal(noToken, 403, 'csrf');
    // The right token, but posted from another site: the Origin check refuses it on its own.
    const crossSite = await httpsCall(`${origin}/.pomerium/disconnect`, {
      ca: gw.cert.ca,
      method: 'POST',
      headers: {
        cookie: `${names.session}=${alice}`,
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example',
      },
      body: new URLSearchParams({ csrf: csrfToken(alice) }).toString(),
    });
    expectRefusal(crossSite, 403, 'csrf');
    const crossSiteFetch = await httpsCall(`${origin}/.pomerium/disconnect`, {
      ca: gw.cert.ca,
      method: 'POST',
      headers: {
        cookie: `${names.session}=${alice}`,
        'content-type': 'application/x-www-form-urlencoded',
        'sec-fetch-site': 'cross-site',
      },
      body: new URLSearchParams({ csrf: csrfToken(alice) }).toString(),
    });
    expectRefusal(crossSiteFetch, 403, 'csrf');
    // The same request from the page itself goes through.
    const own = await httpsCall(`${origin}/.pomerium/disconnect`, {
      ca: gw.cert.ca,
      method: 'POST',
      headers: {
        cookie: `${names.session}=${alice}`,
        'content-type': 'application/x-www-form-urlencoded',
        origin,
        'sec-fetch-site': 'same-origin',
      },
      body: new URLSearchParams({ csrf: csrfToken(alice) }).toString(),
    });
    expect(own.status).toBe(303);
  });
});
