import { createServer, type Server } from 'node:https';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieNames } from '../../../functions/core/web/cookies.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { httpsCall } from '../../support/https.ts';
import { startTestGateway, type TestGateway } from '../../support/local-gateway.ts';
import { expectRefusal } from '../../support/refusals.ts';

/**
 * A hostile or broken upstream: its protected-resource metadata claims another resource, or its
 * authorization server metadata names another issuer. Connecting must stop with a clear page
 * and store neither a state record nor a discovery result.
 */
describe('connect refuses upstream metadata that does not add up', () => {
  let gw: TestGateway;
  let upstream: Server;
  let up: string;
  let ddb: DynamoDBDocumentClient;

  const scenarios: Record<
    string,
    (path: string) => { status: number; body?: unknown; headers?: Record<string, string> }
  > = {
    // PRM for a different resource on the same host
    '/wrong-resource/mcp': (path) =>
      path === '/.well-known/oauth-protected-resource/wrong-resource/mcp'
        ? { status: 200, body: { resource: `${up}/other/mcp`, authorization_servers: [`${up}/as-good`] } }
        : { status: 404 },
    // PRM on another origin
    '/foreign-resource/mcp': (path) =>
      path === '/.well-known/oauth-protected-resource/foreign-resource/mcp'
        ? {
            status: 200,
            body: { resource: 'https://evil.example/mcp', authorization_servers: [`${up}/as-good`] },
          }
        : { status: 404 },
    // AS metadata whose issuer is someone else
    '/lying-issuer/mcp': (path) => {
      if (path === '/.well-known/oauth-protected-resource/lying-issuer/mcp') {
        return {
          status: 200,
          body: { resource: `${up}/lying-issuer/mcp`, authorization_servers: [`${up}/as-liar`] },
        };
      }
      if (path === '/.well-known/oauth-authorization-server/as-liar') {
        return {
          status: 200,
          body: {
            issuer: 'https://evil.example',
            authorization_endpoint: 'https://evil.example/a',
            token_endpoint: 'https://evil.example/t',
          },
        };
      }
      return { status: 404 };
    },
    // No metadata anywhere
    '/no-metadata/mcp': () => ({ status: 404 }),
  };

  beforeAll(async () => {
    const port = await freePort();
    up = `https://localhost:${port}`;
    gw = await startTestGateway(4, (origins) =>
      Object.keys(scenarios).map((path, i) => ({
        from: origins[i]!,
        to: `${up}${path}`,
        allowPrivateNetwork: true,
      })),
    );
    upstream = createServer({ cert: gw.cert.cert, key: gw.cert.key }, (req, res) => {
      const path = new URL(req.url ?? '/', up).pathname;
      if (req.method === 'POST' && path in scenarios) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
        res.end();
        return;
      }
      const answer = Object.values(scenarios)
        .map((scenario) => scenario(path))
        .find((a) => a.status !== 404) ?? { status: 404 };
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body ? JSON.stringify(answer.body) : '{}');
    });
    await new Promise<void>((resolve) => upstream.listen(port, '127.0.0.1', resolve));
    ddb = DynamoDBDocumentClient.from(gw.gateway.dynamo.client);
  });
  afterAll(async () => {
    await new Promise((r) => {
      upstream?.close(r);
      upstream?.closeAllConnections();
    });
    await gw?.stop();
  });

  async function connect(origin: string) {
    const session = await gw.gateway.services.sessions.createSession({
      userId: 'alice',
      issuer: 'https://idp.example',
    });
    return httpsCall(`${origin}/.pomerium/connect`, {
      ca: gw.cert.ca,
      headers: { cookie: `${cookieNames(origin).session}=${session.id}` },
    });
  }

  const stored = async (prefix: string) =>
    (
      await ddb.send(
        new ScanCommand({
          TableName: gw.gateway.dynamo.tableName,
          FilterExpression: 'begins_with(pk, :p)',
          ExpressionAttributeValues: { ':p': prefix },
          Select: 'COUNT',
        }),
      )
    ).Count;

  it.each([
    [0, 'resource_mismatch'],
    [1, 'resource_mismatch'],
    [2, 'issuer_mismatch'],
    [3, 'resource_metadata_not_found'],
  ])('route %i → a 502 page with code %s and nothing stored', async (index, code) => {
    const res = await connect(gw.origins[index]!);
    expectRefusal(res, 502, code);
    expect(res.headers.location).toBeUndefined();
    expect(await stored('state#')).toBe(0);
    expect(await stored('discovery#')).toBe(0);
  });

  it('sends a browser without a session to sign in first, keeping where it was going', async () => {
    const res = await httpsCall(`${gw.origins[0]}/.pomerium/connect?return_to=%2F.pomerium%2Fconnections`, {
      ca: gw.cert.ca,
    });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe(
      `${gw.origins[0]}/.pomerium/login?return_to=${encodeURIComponent('/.pomerium/connect?return_to=%2F.pomerium%2Fconnections')}`,
    );
  });
});
