import { createServer, type Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { cookieNames } from '../../../functions/core/web/cookies.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { httpsCall } from '../../support/https.ts';
import { startTestGateway, type TestGateway } from '../../support/local-gateway.ts';
import { expectRefusal } from '../../support/refusals.ts';

/**
 * A dynamically registered client that the authorization server has since deleted answers
 * `invalid_client` at the token endpoint. The gateway must forget its registration so the next
 * connect registers again, instead of failing for that route forever — whether the refusal is an
 * error body or a `401` challenge that names the error (oauth4webapi reports the two differently).
 */
describe('a dynamic registration the server no longer knows', () => {
  let gw: TestGateway;
  let as: Server;
  let issuer: string;
  let tokenRequests = 0;
  let challenge = false;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `https://localhost:${port}`;
    gw = await startTestGateway(1, ([from]) => [
      { from: from!, to: 'https://up.example.net/mcp', allowPrivateNetwork: true },
    ]);
    as = createServer({ cert: gw.cert.cert, key: gw.cert.key }, (req, res) => {
      req.resume();
      req.on('end', () => {
        tokenRequests += 1;
        res.writeHead(401, {
          'content-type': 'application/json',
          ...(challenge ? { 'www-authenticate': 'Basic realm="as", error="invalid_client"' } : {}),
        });
        res.end(JSON.stringify({ error: 'invalid_client', error_description: 'unknown client' }));
      });
    });
    await new Promise<void>((resolve) => as.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((r) => {
      as?.close(r);
      as?.closeAllConnections();
    });
    await gw?.stop();
  });

  it.each([
    ['an error body', false],
    ['a 401 challenge', true],
  ])('drops the registration when the token endpoint says invalid_client in %s', async (_, withChallenge) => {
    challenge = withChallenge;
    tokenRequests = 0;
    const { services, routes } = gw.gateway;
    const route = routes[0]!;
    await services.registrations.put(route.origin, issuer, {
      clientId: 'dcr-client-1',
      tokenEndpointAuthMethod: 'none',
    });
    const session = await services.sessions.createSession({ userId: 'alice', issuer: 'https://idp.example' });
    const binding = randomToken();
    const { state } = await services.states.createState({
      route: route.origin,
      userId: 'alice',
      binding,
      codeVerifier: randomToken(),
      issuer,
      authorizationEndpoint: `${issuer}/authorize`,
      tokenEndpoint: `${issuer}/token`,
      redirectUri: route.callbackUrl,
      resource: 'https://up.example.net/mcp',
      clientId: 'dcr-client-1',
      clientAuth: { method: 'none' },
      scopes: [],
      returnTo: '/.pomerium/connections',
      resume: { kind: 'connect' },
    });
    const names = cookieNames(route.origin);
    const res = await httpsCall(`${route.callbackUrl}?code=abc&state=${state}`, {
      ca: gw.cert.ca,
      headers: { cookie: `${names.session}=${session.id}; ${names.binding}=${binding}` },
    });
    expectRefusal(res, 502, 'token_exchange_failed');
    expect(res.body).toContain('(<code>invalid_client</code>)');
    expect(tokenRequests).toBe(1);
    expect(await services.registrations.get(route.origin, issuer)).toBeUndefined();
  });

  it('keeps a registration that names another client', async () => {
    const { services, routes } = gw.gateway;
    const route = routes[0]!;
    await services.registrations.put(route.origin, issuer, {
      clientId: 'dcr-client-2',
      tokenEndpointAuthMethod: 'none',
    });
    await services.registrations.forget(route.origin, issuer, 'dcr-client-1');
    expect(await services.registrations.get(route.origin, issuer)).toMatchObject({
      clientId: 'dcr-client-2',
    });
  });
});
