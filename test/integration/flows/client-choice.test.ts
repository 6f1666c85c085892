import { createServer, type Server } from 'node:http';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieNames } from '../../../functions/core/web/cookies.ts';
import { freePort } from '../../../functions/local/ports.ts';
import {
  startAuthorizationServer,
  type TestAuthorizationServer,
} from '../../support/authorization-server.ts';
import { httpsCall } from '../../support/https.ts';
import { startTestGateway, type TestGateway } from '../../support/local-gateway.ts';
import { expectRefusal } from '../../support/refusals.ts';

/**
 * The MCP client-registration order, against real oidc-provider authorization servers:
 * configured client → the route's CIMD → dynamic registration (kept per route and issuer) →
 * a page telling the operator what to configure.
 */
describe('which client the gateway uses at the upstream', () => {
  let withRegistration: TestAuthorizationServer;
  let withCimd: TestAuthorizationServer;
  let withNothing: TestAuthorizationServer;
  let resources: Server;
  let resourceBase: string;
  let gw: TestGateway;
  let registrations = 0;

  beforeAll(async () => {
    // The upstreams: one protected resource per authorization server, all on plain http on loopback
    // (the routes opt in with allowInsecureUpstream and allowPrivateNetwork).
    const noCimd = { clientIdMetadataDocument: { enabled: false } } as never;
    withRegistration = await startAuthorizationServer({
      ca: '',
      configuration: { features: { ...(noCimd as object), registration: { enabled: true } } },
    });
    withRegistration.provider.on('registration_create.success', () => {
      registrations += 1;
    });
    withCimd = await startAuthorizationServer({ ca: '' });
    withNothing = await startAuthorizationServer({ ca: '', configuration: { features: noCimd } });
    const port = await freePort();
    resourceBase = `http://127.0.0.1:${port}`;
    const issuerFor: Record<string, string> = {
      registration: withRegistration.issuer,
      cimd: withCimd.issuer,
      nothing: withNothing.issuer,
      configured: withCimd.issuer,
    };
    resources = createServer((req, res) => {
      const path = new URL(req.url ?? '/', resourceBase).pathname;
      const match = /^\/\.well-known\/oauth-protected-resource\/(\w+)\/mcp$/.exec(path);
      if (match && issuerFor[match[1]!]) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            resource: `${resourceBase}/${match[1]}/mcp`,
            authorization_servers: [issuerFor[match[1]!]],
          }),
        );
        return;
      }
      res.writeHead(req.method === 'POST' ? 401 : 404, { 'www-authenticate': 'Bearer' });
      res.end();
    });
    await new Promise<void>((resolve) => resources.listen(port, '127.0.0.1', resolve));
    const upstream = (name: string) => ({
      to: `${resourceBase}/${name}/mcp`,
      allowInsecureUpstream: true,
      allowPrivateNetwork: true,
    });
    gw = await startTestGateway(4, (origins) => [
      { from: origins[0]!, ...upstream('registration') },
      { from: origins[1]!, ...upstream('cimd') },
      { from: origins[2]!, ...upstream('nothing') },
      { from: origins[3]!, ...upstream('configured'), upstream: { clientId: 'pre-registered-client' } },
    ]);
  });
  afterAll(async () => {
    await gw?.stop();
    await Promise.all([withRegistration?.stop(), withCimd?.stop(), withNothing?.stop()]);
    if (resources) await new Promise((r) => resources.close(r));
  });

  async function connect(index: number) {
    const origin = gw.origins[index]!;
    const session = await gw.gateway.services.sessions.createSession({
      userId: 'alice',
      issuer: 'https://idp.example',
    });
    return httpsCall(`${origin}/.pomerium/connect`, {
      ca: gw.cert.ca,
      headers: { cookie: `${cookieNames(origin).session}=${session.id}` },
    });
  }

  const clientIdOf = (location: unknown) => new URL(String(location)).searchParams.get('client_id');

  it('uses the route’s CIMD URL when the server advertises CIMD support', async () => {
    const res = await connect(1);
    expect(res.status).toBe(303);
    const location = new URL(String(res.headers.location));
    expect(location.origin).toBe(withCimd.issuer);
    expect(location.searchParams.get('client_id')).toBe(
      `${gw.origins[1]}/.well-known/mcp-client-metadata.json`,
    );
    expect(location.searchParams.get('redirect_uri')).toBe(`${gw.origins[1]}/.pomerium/oauth/callback`);
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    expect(location.searchParams.get('resource')).toBe(`${resourceBase}/cimd/mcp`);
  });

  it('prefers a configured client over CIMD', async () => {
    const res = await connect(3);
    expect(res.status).toBe(303);
    expect(clientIdOf(res.headers.location)).toBe('pre-registered-client');
  });

  it('registers dynamically once per route and issuer, and reuses the registration', async () => {
    const first = await connect(0);
    expect(first.status).toBe(303);
    const clientId = clientIdOf(first.headers.location);
    expect(clientId).toBeTruthy();
    expect(clientId).not.toContain('mcp-client-metadata.json');
    const again = await connect(0);
    expect(clientIdOf(again.headers.location)).toBe(clientId);
    expect(registrations).toBe(1);
    // The registration is a real client at the server, with the route's callback.
    const client = await withRegistration.provider.Client.find(clientId!);
    expect(client?.redirectUris).toEqual([`${gw.origins[0]}/.pomerium/oauth/callback`]);
    const ddb = DynamoDBDocumentClient.from(gw.gateway.dynamo.client);
    const items = await ddb.send(
      new ScanCommand({
        TableName: gw.gateway.dynamo.tableName,
        FilterExpression: 'begins_with(pk, :p)',
        ExpressionAttributeValues: { ':p': 'registration#' },
      }),
    );
    expect(items.Items).toHaveLength(1);
    expect(items.Items?.[0]).toMatchObject({ issuer: withRegistration.issuer, clientId });
  });

  it('explains what the operator must configure when the server offers neither', async () => {
    const res = await connect(2);
    expectRefusal(res, 503, 'no_client_available');
    // What to configure is the page's point: the route's callback and the config key.
    expect(res.body).toContain(`${gw.origins[2]}/.pomerium/oauth/callback`);
    expect(res.body).toContain('upstream.clientId');
    expect(res.headers.location).toBeUndefined();
  });
});
