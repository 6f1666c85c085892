import { describe, expect, it } from 'vitest';
import { jsonRpcError, parseClientMessage } from '../../../functions/core/proxy/jsonrpc.ts';

const bytes = (value: unknown) =>
  new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

async function errorOf(response: Response) {
  return {
    status: response.status,
    refusal: response.headers.get('x-mcp-edge-refusal'),
    body: (await response.json()) as { id: unknown; error: { code: number } },
  };
}

describe('parseClientMessage', () => {
  it.each(['abc-1', 42, 0, -1.5, ''])('keeps a request id of %j to echo it', (id) => {
    const parsed = parseClientMessage(bytes({ jsonrpc: '2.0', id, method: 'tools/list' }));
    expect(parsed).toEqual({ ok: true, message: { id, method: 'tools/list', isRequest: true } });
  });

  it.each([null, { a: 1 }, [1], true])('reads an id of %j as null (nothing to echo)', (id) => {
    const parsed = parseClientMessage(bytes({ jsonrpc: '2.0', id, method: 'ping' }));
    expect(parsed.ok && parsed.message.id).toBeNull();
  });

  it('takes a notification (no id) for what it is: not a request', () => {
    const parsed = parseClientMessage(bytes({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    expect(parsed).toEqual({
      ok: true,
      message: { id: null, method: 'notifications/initialized', isRequest: false },
    });
  });

  it('takes a response (an id without a method) as not a request', () => {
    const parsed = parseClientMessage(bytes({ jsonrpc: '2.0', id: 3, result: {} }));
    expect(parsed).toEqual({ ok: true, message: { id: 3, isRequest: false } });
  });

  it('keeps object params and ignores array params', () => {
    const withObject = parseClientMessage(
      bytes({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }),
    );
    expect(withObject.ok && withObject.message.params).toEqual({ name: 'x' });
    const withArray = parseClientMessage(bytes({ jsonrpc: '2.0', id: 1, method: 'm', params: [1, 2] }));
    expect(withArray.ok && withArray.message.params).toBeUndefined();
  });

  it.each([
    ['broken JSON', '{"jsonrpc":"2.0",'],
    ['an empty body', ''],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
  ])('answers %s with 400 and -32700 (parse error)', async (_name, body) => {
    const parsed = parseClientMessage(typeof body === 'string' ? bytes(body) : body);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(await errorOf(parsed.response)).toMatchObject({
      status: 400,
      refusal: 'body_not_json',
      body: { id: null, error: { code: -32700 } },
    });
  });

  it.each([
    ['a batch', [{ jsonrpc: '2.0', id: 1, method: 'ping' }]],
    ['a string', 'hello'],
    ['a number', 7],
    ['null', null],
  ])('answers %s with 400 and -32600 (one message per request)', async (_name, value) => {
    const parsed = parseClientMessage(bytes(JSON.stringify(value)));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(await errorOf(parsed.response)).toMatchObject({
      status: 400,
      refusal: 'jsonrpc_invalid',
      body: { id: null, error: { code: -32600 } },
    });
  });
});

describe('jsonRpcError', () => {
  it('answers a JSON-RPC error with the id, status, data, CORS and no caching', async () => {
    const res = jsonRpcError(502, 'call-1', -32001, 'The upstream failed.', { error: 'upstream_error' });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(await res.json()).toEqual({
      jsonrpc: '2.0',
      id: 'call-1',
      error: { code: -32001, message: 'The upstream failed.', data: { error: 'upstream_error' } },
    });
  });

  it('leaves data out when there is none', async () => {
    expect(await jsonRpcError(400, 5, -32700, 'Not JSON.').json()).toEqual({
      jsonrpc: '2.0',
      id: 5,
      error: { code: -32700, message: 'Not JSON.' },
    });
  });
});
