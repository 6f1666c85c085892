import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamingWebHandler } from '../../../functions/adapters/streaming.ts';
import {
  localContext,
  localResponseStream,
  nodeRequestToEvent,
} from '../../../functions/local/node-adapter.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../../functions/local/tls.ts';
import { expectRefusal } from '../../support/refusals.ts';

/**
 * The local gateway's adapter is streaming-capable: a response-streaming handler (Lambda's
 * `streamifyResponse` shape) reaches the client chunk by chunk. The second chunk is produced only
 * after the client has received the first, so a buffering adapter would hang and fail the test.
 */
describe('local response streaming', () => {
  let server: Server;
  let origin: string;
  let cert: DevCertificate;
  let dir: string;
  let firstChunkSeen: () => void = () => undefined;

  const app = async (request: Request) => {
    if (new URL(request.url).pathname === '/boom') throw new Error('internal detail that must not leak');
    const seen = new Promise<void>((resolve) => {
      firstChunkSeen = resolve;
    });
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(encoder.encode('event: message\ndata: one\n\n'));
        await seen;
        controller.enqueue(encoder.encode('event: message\ndata: two\n\n'));
        controller.close();
      },
    });
    const headers = new Headers({ 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    headers.append('set-cookie', 'a=1; Secure');
    headers.append('set-cookie', 'b=2; Secure');
    return new Response(body, { status: 200, headers });
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-edge-stream-'));
    cert = await ensureDevCertificate(dir);
    const open = streamingWebHandler(app, undefined, localResponseStream);
    const guarded = streamingWebHandler(app, 'the-origin-secret', localResponseStream);
    const port = await freePort();
    origin = `https://localhost:${port}`;
    server = createServer({ cert: cert.cert, key: cert.key }, async (req, res) => {
      const event = await nodeRequestToEvent(req);
      const handler = event.path.startsWith('/guarded') ? guarded : open;
      await handler(event, res, localContext('stream'));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((r) => {
      server?.close(r);
      server?.closeAllConnections();
    });
    await rm(dir, { recursive: true, force: true });
  });

  function get(path: string, onChunk?: (text: string) => void) {
    return new Promise<{ status: number; headers: Record<string, unknown>; chunks: string[] }>(
      (resolve, reject) => {
        const req = httpsRequest(`${origin}${path}`, { ca: cert.ca, agent: false }, (res) => {
          const chunks: string[] = [];
          res.on('data', (c: Buffer) => {
            chunks.push(c.toString());
            onChunk?.(c.toString());
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks }));
        });
        req.on('error', reject);
        req.end();
      },
    );
  }

  it('delivers the first event before the second is produced, with status, headers and cookies', async () => {
    const res = await get('/events', (text) => {
      if (text.includes('data: one')) firstChunkSeen();
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    expect(res.headers['set-cookie']).toEqual(['a=1; Secure', 'b=2; Secure']);
    expect(res.chunks.join('')).toBe('event: message\ndata: one\n\nevent: message\ndata: two\n\n');
    expect(res.chunks.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a request without the origin secret when the check is on', async () => {
    const res = await get('/guarded');
    expectRefusal(res, 403, 'origin_unverified');
    expect(JSON.parse(res.chunks.join('')).error).toBe('origin_unverified');
  });

  it('turns a thrown error into a clean 500 JSON answer without detail', async () => {
    const res = await get('/boom');
    expectRefusal(res, 500, 'server_error');
    const body = res.chunks.join('');
    expect(JSON.parse(body).error).toBe('server_error');
    expect(body).not.toContain('internal detail');
  });
});
