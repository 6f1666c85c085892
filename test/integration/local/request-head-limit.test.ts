import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API_GATEWAY_MAX_HEAD_BYTES,
  CLOUDFRONT_HEAD_ALLOWANCE_BYTES,
  MAX_REQUEST_HEAD_BYTES,
} from '../../../functions/local/node-adapter.ts';
import { startTestGateway, type TestGateway } from '../../support/local-gateway.ts';

/**
 * API Gateway refuses a request whose request line and headers pass 10,240 bytes, counted after
 * CloudFront has added its own headers. The local gateway refuses at the same point, so a flow
 * (a big cookie, a long query) that works locally cannot fail in AWS on header size. The head is
 * written byte for byte over TLS, so the sizes below are exactly what the gateway receives.
 */
const CIMD = '/.well-known/mcp-client-metadata.json';
const TOO_LARGE = { message: 'Request Header Fields Too Large' };

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway(1, ([origin]) => [
    { from: origin!, to: 'https://up.example.net/mcp', allowPrivateNetwork: true },
  ]);
});
afterAll(async () => {
  await t?.stop();
});

/** A request head of exactly `size` bytes, padded with one header (`X-Padding` or a cookie). */
function headOfSize(
  size: number,
  options: { method?: string; path?: string; cookie?: boolean; extra?: string[] } = {},
): string {
  const host = new URL(t.origins[0]!).host;
  const lines = [
    `${options.method ?? 'GET'} ${options.path ?? CIMD} HTTP/1.1`,
    `Host: ${host}`,
    'Connection: close',
    ...(options.extra ?? []),
  ];
  const prefix = `${lines.join('\r\n')}\r\n${options.cookie ? 'Cookie: a=' : 'X-Padding: '}`;
  const pad = size - prefix.length - 4;
  if (pad < 1) throw new Error(`a head of ${size} bytes is too small to pad`);
  const head = `${prefix}${'x'.repeat(pad)}\r\n\r\n`;
  expect(Buffer.byteLength(head, 'latin1')).toBe(size);
  return head;
}

/** Sends `head` (and `body`) on a fresh TLS connection and returns the status, headers and body. */
function exchange(head: string, body = ''): Promise<{ status: number; headers: string; body: string }> {
  const url = new URL(t.origins[0]!);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: Number(url.port),
      servername: 'localhost',
      ca: t.cert.ca,
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, headers: text.slice(0, split), body: text.slice(split + 4) });
    });
    socket.on('error', reject);
    socket.once('secureConnect', () => socket.end(head + body));
  });
}

describe('the local gateway and the size of a request head', () => {
  it('keeps room for what CloudFront adds under API Gateway’s 10,240 bytes', () => {
    expect(API_GATEWAY_MAX_HEAD_BYTES).toBe(10_240);
    expect(MAX_REQUEST_HEAD_BYTES).toBe(API_GATEWAY_MAX_HEAD_BYTES - CLOUDFRONT_HEAD_ALLOWANCE_BYTES);
    expect(CLOUDFRONT_HEAD_ALLOWANCE_BYTES).toBeGreaterThanOrEqual(300);
  });

  it('serves a request whose head is exactly at the limit', async () => {
    const res = await exchange(headOfSize(MAX_REQUEST_HEAD_BYTES));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ client_id: `${t.origins[0]}${CIMD}` });
  });

  it('refuses one byte more with 431 and API Gateway’s error shape, before routing', async () => {
    const res = await exchange(headOfSize(MAX_REQUEST_HEAD_BYTES + 1));
    expect(res.status).toBe(431);
    expect(res.headers).toMatch(/^content-type: application\/json$/im);
    expect(JSON.parse(res.body)).toEqual(TOO_LARGE);
  });

  it('counts a large Cookie header like any other (a session that grew too big fails here first)', async () => {
    const under = await exchange(headOfSize(MAX_REQUEST_HEAD_BYTES, { cookie: true }));
    expect(under.status).toBe(200);
    const over = await exchange(headOfSize(MAX_REQUEST_HEAD_BYTES + 1, { cookie: true }));
    expect(over.status).toBe(431);
    expect(JSON.parse(over.body)).toEqual(TOO_LARGE);
  });

  it('counts the request line: a long query string is refused the same way', async () => {
    const path = `${CIMD}?q=${'x'.repeat(MAX_REQUEST_HEAD_BYTES)}`;
    const res = await exchange(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toEqual(TOO_LARGE);
  });

  it('refuses an oversized POST to the MCP endpoint before reading its body or routing it', async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
    const extra = ['Content-Type: application/json', `Content-Length: ${body.length}`];
    const head = headOfSize(MAX_REQUEST_HEAD_BYTES + 1, { method: 'POST', path: '/mcp', extra });
    const res = await exchange(head, body);
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toEqual(TOO_LARGE);
  });

  it('answers the same 431 when the head passes Node’s own 16 KiB parser limit', async () => {
    const res = await exchange(headOfSize(20_000));
    expect(res.status).toBe(431);
    expect(JSON.parse(res.body)).toEqual(TOO_LARGE);
  });
});
