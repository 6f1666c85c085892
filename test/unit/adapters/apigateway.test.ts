import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { eventToRequest, responseToResult } from '../../../functions/adapters/apigateway.ts';
import { HttpError } from '../../../functions/core/http/errors.ts';
import { readCookies } from '../../../functions/core/web/cookies.ts';

/** An API Gateway REST proxy event as API Gateway sends it: both single- and multi-value maps. */
function event(overrides: Partial<APIGatewayProxyEvent> = {}): APIGatewayProxyEvent {
  return {
    httpMethod: 'GET',
    path: '/x',
    headers: { Host: 'mcp.example.com' },
    multiValueHeaders: { Host: ['mcp.example.com'] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    resource: '/{proxy+}',
    requestContext: { domainName: 'mcp.example.com' } as APIGatewayProxyEvent['requestContext'],
    ...overrides,
  };
}

function refusalOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof HttpError ? error.code : 'not an HttpError';
  }
  return undefined;
}

describe('eventToRequest', () => {
  it('builds the URL from the custom domain API Gateway matched, not a Host header', () => {
    const request = eventToRequest(
      event({ headers: { Host: 'evil.example' }, multiValueHeaders: { Host: ['evil.example'] } }),
    );
    expect(request.url).toBe('https://mcp.example.com/x');
  });

  it('falls back to the Host header when there is no custom domain (the local gateway fills both)', () => {
    const request = eventToRequest(event({ requestContext: {} as APIGatewayProxyEvent['requestContext'] }));
    expect(new URL(request.url).host).toBe('mcp.example.com');
  });

  it.each(['evil.example/x', 'a b', 'évil.example', 'a.example:99999999', '', 'x@evil.example'])(
    'refuses the host %j with invalid_host',
    (host) => {
      const e = event({
        requestContext: {} as APIGatewayProxyEvent['requestContext'],
        headers: { Host: host },
        multiValueHeaders: { Host: [host] },
      });
      expect(refusalOf(() => eventToRequest(e))).toBe('invalid_host');
    },
  );

  it('refuses a port no URL can hold with invalid_path', () => {
    const e = event({
      requestContext: { domainName: 'mcp.example.com:99999' } as APIGatewayProxyEvent['requestContext'],
    });
    expect(refusalOf(() => eventToRequest(e))).toBe('invalid_path');
  });

  it('keeps every value of a repeated query parameter, in order', () => {
    const request = eventToRequest(
      event({
        queryStringParameters: { a: '2', b: 'x y' },
        multiValueQueryStringParameters: { a: ['1', '2'], b: ['x y'] },
      }),
    );
    const query = new URL(request.url).searchParams;
    expect(query.getAll('a')).toEqual(['1', '2']);
    expect(query.get('b')).toBe('x y');
  });

  it('uses the single-value maps when API Gateway sends no multi-value ones', () => {
    const request = eventToRequest(
      event({
        queryStringParameters: { a: '1' },
        headers: { Host: 'mcp.example.com', Accept: 'text/html' },
        multiValueHeaders: undefined as never,
      }),
    );
    expect(new URL(request.url).searchParams.get('a')).toBe('1');
    expect(request.headers.get('accept')).toBe('text/html');
  });

  it('keeps every value of a repeated header', () => {
    const request = eventToRequest(
      event({
        multiValueHeaders: { Host: ['mcp.example.com'], 'X-Multi': ['a', 'b'], Cookie: ['a=1', 'b=2'] },
      }),
    );
    expect(request.headers.get('x-multi')).toBe('a, b');
  });

  // Regression: two Cookie fields were joined with ", " (the Fetch rule for other headers), so the
  // first cookie's value swallowed the second cookie.
  it('joins several Cookie fields with "; " so each cookie stays its own', () => {
    const request = eventToRequest(
      event({ multiValueHeaders: { Host: ['mcp.example.com'], Cookie: ['a=1', 'b=2; c=3'] } }),
    );
    expect(request.headers.get('cookie')).toBe('a=1; b=2; c=3');
    expect(Object.fromEntries(readCookies(request.headers.get('cookie')))).toEqual({
      a: '1',
      b: '2',
      c: '3',
    });
  });

  it('drops a header value the Fetch API cannot hold instead of failing the request', () => {
    const request = eventToRequest(
      event({
        multiValueHeaders: {
          Host: ['mcp.example.com'],
          'X-Bad': ['日本'],
          'X-Nul': ['a\u0000b'],
          'X-Ok': ['1'],
        },
      }),
    );
    expect(request.headers.get('x-bad')).toBeNull();
    expect(request.headers.get('x-nul')).toBeNull();
    expect(request.headers.get('x-ok')).toBe('1');
  });

  it('decodes a base64 body as bytes, and a plain one as UTF-8', async () => {
    const bytes = Buffer.from([0x00, 0xff, 0x10, 0x80]);
    const binary = eventToRequest(
      event({ httpMethod: 'POST', body: bytes.toString('base64'), isBase64Encoded: true }),
    );
    expect(Buffer.from(await binary.arrayBuffer())).toEqual(bytes);
    const text = eventToRequest(event({ httpMethod: 'post', body: 'grüße=1' }));
    expect(text.method).toBe('POST');
    expect(await text.text()).toBe('grüße=1');
  });

  it('drops a body sent with GET or HEAD', async () => {
    for (const httpMethod of ['GET', 'HEAD']) {
      const request = eventToRequest(event({ httpMethod, body: 'x=1' }));
      expect(request.body).toBeNull();
    }
  });

  it('passes the signal it is given (the client leaving, the function deadline)', () => {
    const controller = new AbortController();
    const request = eventToRequest(event(), controller.signal);
    controller.abort();
    expect(request.signal.aborted).toBe(true);
  });
});

describe('responseToResult', () => {
  it('keeps the status, every header, and each Set-Cookie as its own value', async () => {
    const headers = new Headers({ 'content-type': 'text/html; charset=utf-8', 'x-mcp-edge-refusal': 'csrf' });
    headers.append('set-cookie', 'a=1; Secure');
    headers.append('set-cookie', 'b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT');
    const result = await responseToResult(new Response('<p>x</p>', { status: 403, headers }));
    expect(result.statusCode).toBe(403);
    expect(result.multiValueHeaders?.['x-mcp-edge-refusal']).toEqual(['csrf']);
    expect(result.multiValueHeaders?.['set-cookie']).toEqual([
      'a=1; Secure',
      'b=2; Expires=Wed, 21 Oct 2026 07:28:00 GMT',
    ]);
    expect(result.body).toBe('<p>x</p>');
    expect(result.isBase64Encoded).toBe(false);
  });

  it.each([
    'application/json',
    'application/problem+json',
    'text/plain; charset=utf-8',
    'application/x-www-form-urlencoded',
  ])('sends a %s body as UTF-8 text', async (type) => {
    const result = await responseToResult(new Response('{"a":"é"}', { headers: { 'content-type': type } }));
    expect(result).toMatchObject({ body: '{"a":"é"}', isBase64Encoded: false });
  });

  it('sends a binary body base64-encoded, byte for byte', async () => {
    const bytes = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);
    const result = await responseToResult(new Response(bytes, { headers: { 'content-type': 'image/png' } }));
    expect(result.isBase64Encoded).toBe(true);
    expect(Buffer.from(result.body, 'base64')).toEqual(Buffer.from(bytes));
  });

  it('sends an empty answer as an empty body, not base64', async () => {
    const result = await responseToResult(
      new Response(null, { status: 204, headers: { 'content-type': 'image/png' } }),
    );
    expect(result).toMatchObject({ statusCode: 204, body: '', isBase64Encoded: false });
  });
});
