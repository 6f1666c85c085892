import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthorizationServer, type TestAuthorizationServer } from '../support/authorization-server.ts';
import { startTestGateway, type TestGateway } from '../support/local-gateway.ts';

/**
 * Acceptance criterion 5 of the route-side seed: a real authorization server fetches the
 * route's served CIMD, validates it, and accepts (or refuses) an authorization request with
 * client_id = the CIMD URL.
 */
describe('oidc-provider fetching and validating a route CIMD from the local gateway', () => {
  let gw: TestGateway;
  let as: TestAuthorizationServer;

  beforeAll(async () => {
    gw = await startTestGateway(2, (origins) =>
      origins.map((from) => ({ from, to: 'https://up.example.net/mcp' })),
    );
    as = await startAuthorizationServer({ ca: gw.cert.ca });
  });
  afterAll(async () => {
    await as?.stop();
    await gw?.stop();
  });

  function authorizationUrl(clientId: string, redirectUri: string): string {
    const verifier = randomBytes(32).toString('base64url');
    const url = new URL(`${as.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: clientId,
      redirect_uri: redirectUri,
      response_type: 'code',
      scope: 'openid',
      state: randomBytes(16).toString('base64url'),
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();
    return url.href;
  }

  it("accepts the route's CIMD URL as client_id and its callback as redirect_uri, proceeding to login", async () => {
    const route = gw.gateway.routes[0]!;
    const res = await fetch(authorizationUrl(route.cimdUrl, route.callbackUrl), { redirect: 'manual' });
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!, as.issuer);
    expect(location.pathname).toMatch(/^\/interaction\/[\w-]+$/);
    expect(as.fetched).toContain(route.cimdUrl);

    const cookies = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const login = await fetch(location, { headers: { cookie: cookies } });
    expect(login.status).toBe(200);
    const page = await login.text();
    expect(page).toContain('Sign-in');
    expect(page).toContain('name="login"');
  });

  it('refuses a redirect_uri that the served document does not list', async () => {
    const route = gw.gateway.routes[1]!;
    const other = gw.gateway.routes[0]!;
    for (const redirectUri of [other.callbackUrl, `${route.origin}/elsewhere`, 'https://evil.example/cb']) {
      const res = await fetch(authorizationUrl(route.cimdUrl, redirectUri), { redirect: 'manual' });
      expect(res.status).toBe(400);
      const body = await res.text();
      expect(body).toContain('invalid_redirect_uri');
      expect(res.headers.get('location')).toBeNull();
    }
    expect(as.fetched).toContain(route.cimdUrl);
  });

  it('refuses a client_id whose document the gateway does not serve', async () => {
    const route = gw.gateway.routes[0]!;
    const res = await fetch(authorizationUrl(`${route.origin}/.well-known/other.json`, route.callbackUrl), {
      redirect: 'manual',
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('invalid_client');
  });
});
