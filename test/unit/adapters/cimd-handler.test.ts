import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaSettings } from '../../../functions/adapters/lambda-env.ts';
import { createCimdHandler } from '../../../functions/cimd/app.ts';

const routes = [{ from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' }];
const SECRET = 'origin-secret-value';

function event(
  overrides: Partial<APIGatewayProxyEvent> = {},
  headers: Record<string, string> = {},
): APIGatewayProxyEvent {
  const all = { Host: 'mcp.example.com', 'X-Mcp-Edge-Origin-Verify': SECRET, ...headers };
  return {
    httpMethod: 'GET',
    path: '/.well-known/mcp-client-metadata.json',
    headers: all,
    multiValueHeaders: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, [v]])),
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { domainName: 'mcp.example.com' } as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  } as APIGatewayProxyEvent;
}

const handler = createCimdHandler({ routes, originSecret: SECRET });
const invoke = (e: APIGatewayProxyEvent) => handler(e, {} as Context) as Promise<APIGatewayProxyResult>;

describe('CIMD Lambda handler', () => {
  it('serves the document for the custom domain API Gateway matched', async () => {
    const res = await invoke(event());
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).client_id).toBe(
      'https://mcp.example.com/.well-known/mcp-client-metadata.json',
    );
    expect(res.isBase64Encoded).toBe(false);
  });

  it('uses requestContext.domainName over a spoofed Host header', async () => {
    const res = await invoke(event({}, { Host: 'evil.example' }));
    expect(res.statusCode).toBe(200);
  });

  it('refuses requests that did not come through CloudFront', async () => {
    const missing = event();
    delete missing.headers['X-Mcp-Edge-Origin-Verify'];
    for (const e of [
      missing,
      event({}, { 'X-Mcp-Edge-Origin-Verify': 'wrong' }),
      event({}, { 'X-Mcp-Edge-Origin-Verify': `${SECRET}x` }),
    ]) {
      const res = await invoke(e);
      expect(res.statusCode).toBe(403);
      expect(res.multiValueHeaders?.['x-mcp-edge-refusal']).toEqual(['origin_unverified']);
      expect(JSON.parse(res.body).error).toBe('origin_unverified');
      expect(res.body).not.toContain(SECRET);
    }
  });

  it('drops header values the Fetch API cannot hold instead of failing the request (regression: was a 500)', async () => {
    const res = await invoke(event({}, { 'X-Foo': '日本', Cookie: 'theme=日本; other=1' }));
    expect(res.statusCode).toBe(200);
  });

  it('answers a malformed event with a 400, not a stack trace', async () => {
    const res = await invoke(
      event({ requestContext: {} as APIGatewayProxyEvent['requestContext'] }, { Host: 'bad host' }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.multiValueHeaders?.['x-mcp-edge-refusal']).toEqual(['invalid_host']);
    expect(JSON.parse(res.body)).toEqual({ error: 'invalid_host', error_description: expect.any(String) });
  });
});

describe('lambdaSettings', () => {
  it('reads the route table and the origin secret', () => {
    const settings = lambdaSettings({ MCP_EDGE_ROUTES: JSON.stringify(routes), MCP_EDGE_ORIGIN_VERIFY: 's' });
    expect(settings.routes[0]!.from).toBe('https://mcp.example.com');
  });

  it('refuses to start without the origin secret or with a bad route table', () => {
    expect(() => lambdaSettings({ MCP_EDGE_ROUTES: JSON.stringify(routes) })).toThrow(
      /MCP_EDGE_ORIGIN_VERIFY/,
    );
    expect(() => lambdaSettings({ MCP_EDGE_ROUTES: '{', MCP_EDGE_ORIGIN_VERIFY: 's' })).toThrow(
      /not valid JSON/,
    );
    expect(() =>
      lambdaSettings({
        MCP_EDGE_ROUTES: JSON.stringify([{ from: 'http://x' }]),
        MCP_EDGE_ORIGIN_VERIFY: 's',
      }),
    ).toThrow(/\[0\]\.from/);
  });
});
