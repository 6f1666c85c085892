import { describe, expect, it } from 'vitest';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../../functions/core/proxy/headers.ts';

describe('upstreamRequestHeaders', () => {
  it('keeps exactly the headers MCP needs upstream', () => {
    const kept = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'last-event-id': '41',
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
      'mcp-param-text': 'hello',
      'mcp-param-other': 'x',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    };
    expect(upstreamRequestHeaders(new Headers(kept))).toEqual(kept);
  });

  it('drops the client’s Authorization, cookies, the origin secret, forwarding, CloudFront, hop-by-hop and unknown headers', () => {
    const dropped = new Headers({
      authorization: 'Bearer gateway-token',
      cookie: 'a=b',
      'x-mcp-edge-origin-verify': 'secret',
      'x-forwarded-for': '203.0.113.1',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'evil.example',
      forwarded: 'for=203.0.113.1',
      'cloudfront-viewer-country': 'DE',
      'x-amz-cf-id': 'abc',
      via: '1.1 cloudfront',
      connection: 'keep-alive',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      upgrade: 'h2c',
      'proxy-authorization': 'Basic x',
      host: 'route.example.com',
      'content-length': '12',
      'x-custom': '1',
      // The session id crosses only unsealed, by the caller: never the client's sealed value.
      'mcp-session-id': 'sealed-value',
    });
    expect(upstreamRequestHeaders(dropped)).toEqual({});
  });

  it('drops a forwardable header whose value node:http would refuse (a control character)', () => {
    expect(
      upstreamRequestHeaders(new Headers({ 'mcp-name': 'a\u0001b', 'mcp-method': 'tools/call' })),
    ).toEqual({
      'mcp-method': 'tools/call',
    });
  });

  it('matches names without regard to case', () => {
    expect(
      upstreamRequestHeaders(new Headers({ 'Content-Type': 'application/json', 'MCP-Param-X': '1' })),
    ).toEqual({
      'content-type': 'application/json',
      'mcp-param-x': '1',
    });
  });
});

describe('clientResponseHeaders', () => {
  it('keeps the content type and protocol version', () => {
    expect(
      clientResponseHeaders({ 'content-type': 'text/event-stream', 'mcp-protocol-version': '2025-11-25' }),
    ).toEqual({ 'content-type': 'text/event-stream', 'mcp-protocol-version': '2025-11-25' });
  });

  it('drops Set-Cookie, the upstream’s auth challenge, its session id (sealed by the caller), its caching and everything else', () => {
    expect(
      clientResponseHeaders({
        'set-cookie': ['a=1', 'b=2'],
        'www-authenticate': 'Bearer error="invalid_token"',
        'proxy-authenticate': 'Basic',
        'authentication-info': 'x',
        'mcp-session-id': 'upstream-session',
        // The proxy sets its own (no-store): a per-person answer is never cached by a shared cache.
        'cache-control': 'public, max-age=3600',
        'content-length': '10',
        'transfer-encoding': 'chunked',
        connection: 'keep-alive',
        server: 'upstream/1.0',
        'x-powered-by': 'x',
        'access-control-allow-origin': 'https://evil.example',
      }),
    ).toEqual({});
  });

  it('joins a repeated header into one value', () => {
    expect(clientResponseHeaders({ 'mcp-protocol-version': ['a', 'b'] as unknown as string })).toEqual({
      'mcp-protocol-version': 'a, b',
    });
  });
});
