import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLE_DEFINITION } from '../../../functions/core/store/table.ts';
import { httpsCall } from '../../support/https.ts';
import { startTestGateway, type TestGateway } from '../../support/local-gateway.ts';
import { expectRefusal } from '../../support/refusals.ts';

const CIMD = '/.well-known/mcp-client-metadata.json';

describe('local gateway serving two routes over HTTPS', () => {
  let t: TestGateway;
  const call = (
    origin: string,
    opts: { method?: string; headers?: Record<string, string>; path?: string } = {},
  ) =>
    httpsCall(`${origin}${opts.path ?? CIMD}`, { ca: t.cert.ca, method: opts.method, headers: opts.headers });

  beforeAll(async () => {
    t = await startTestGateway(2, ([a, b]) => [
      { from: a!, to: 'https://up.example.net/mcp', name: 'Alpha' },
      { from: b!, to: 'https://up.example.net/mcp', cimd: { contacts: ['ops@example.com'] } },
    ]);
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('serves each route its own document with client_id equal to the URL it was fetched from', async () => {
    for (const origin of t.origins) {
      const res = await call(origin);
      expect(res.status).toBe(200);
      const doc = JSON.parse(res.body);
      expect(doc.client_id).toBe(`${origin}${CIMD}`);
      expect(doc.redirect_uris).toEqual([`${origin}/.pomerium/oauth/callback`]);
      expect(doc.client_uri).toBe(origin);
      expect(res.headers['content-type']).toBe('application/json');
      expect(res.headers['cache-control']).toBe('public, max-age=3600, s-maxage=86400');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.body));
    }
    const [a, b] = await Promise.all(t.origins.map((o) => call(o)));
    expect(JSON.parse(a!.body).client_name).toMatch(/^Alpha \(MCP Edge - localhost:\d+\)$/);
    expect(JSON.parse(b!.body).contacts).toEqual(['ops@example.com']);
    expect(a!.headers.etag).not.toBe(b!.headers.etag);
  });

  it('answers HEAD with the headers and no body', async () => {
    const get = await call(t.origins[0]!);
    const head = await call(t.origins[0]!, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers.etag).toBe(get.headers.etag);
    expect(head.headers['content-length']).toBe(get.headers['content-length']);
  });

  it('answers a conditional GET with 304 and no body', async () => {
    const { headers } = await call(t.origins[1]!);
    const etag = String(headers.etag);
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const res = await call(t.origins[1]!, { headers: { 'if-none-match': inm } });
      expect(res.status).toBe(304);
      expect(res.body).toBe('');
      expect(res.headers.etag).toBe(etag);
    }
    expect((await call(t.origins[1]!, { headers: { 'if-none-match': '"stale"' } })).status).toBe(200);
    const otherRoutesTag = String((await call(t.origins[0]!)).headers.etag);
    expect((await call(t.origins[1]!, { headers: { 'if-none-match': otherRoutesTag } })).status).toBe(200);
  });

  it('answers a CORS preflight', async () => {
    const res = await call(t.origins[0]!, {
      method: 'OPTIONS',
      headers: { origin: 'https://as.example.org', 'access-control-request-method': 'GET' },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
    expect(res.body).toBe('');
  });

  it('refuses other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await call(t.origins[0]!, { method });
      expectRefusal(res, 405, 'method_not_allowed');
      expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
      expect(JSON.parse(res.body).error).toBe('method_not_allowed');
      // A browser-based client may read the code: the CORS answer exposes the header.
      expect(res.headers['access-control-expose-headers']).toContain('x-mcp-edge-refusal');
    }
  });

  it('answers an unknown host with a 404 JSON error', async () => {
    for (const host of ['evil.example', 'localhost:1', 'localhost']) {
      const res = await call(t.origins[0]!, { headers: { host } });
      expectRefusal(res, 404, 'unknown_route');
      expect(res.headers['content-type']).toBe('application/json');
      expect(JSON.parse(res.body)).toEqual({ error: 'unknown_route', error_description: expect.any(String) });
    }
  });

  it('answers hostile Host headers and unknown paths with clean 4xx JSON, never a stack', async () => {
    for (const host of ['a b', 'x/y', 'évil', '<script>']) {
      const res = await call(t.origins[0]!, { headers: { host } });
      expectRefusal(res, 400, 'invalid_host');
      expect(JSON.parse(res.body).error).toBe('invalid_host');
    }
    const unknown = await call(t.origins[0]!, { path: '/nothing-here' });
    expectRefusal(unknown, 404, 'not_found');
    expect(JSON.parse(unknown.body).error).toBe('not_found');
    const traversal = await call(t.origins[0]!, {
      path: '/.well-known/../.well-known/mcp-client-metadata.json%00',
    });
    expect(traversal.status).toBe(404);
    expect(traversal.body).not.toMatch(/at .*\.ts/);
  });

  it('creates the table in DynamoDB Local from the shared definition, with TTL on', async () => {
    const dynamo = t.gateway.dynamo!;
    const table = await dynamo.client.send(new DescribeTableCommand({ TableName: dynamo.tableName }));
    expect(table.Table?.KeySchema).toEqual([
      { AttributeName: TABLE_DEFINITION.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_DEFINITION.sortKey, KeyType: 'RANGE' },
    ]);
    const ttl = await dynamo.client.send(new DescribeTimeToLiveCommand({ TableName: dynamo.tableName }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe(TABLE_DEFINITION.ttlAttribute);
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });
});
