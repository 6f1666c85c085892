import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstreamClient, type UpstreamResult } from '../../../functions/core/proxy/upstream-client.ts';
import { freePort } from '../../../functions/local/ports.ts';

describe('createUpstreamClient', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/moved') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      } else if (req.url === '/garbage') {
        req.socket.end('\u0000\u0001 this is not HTTP\r\n\r\n');
      } else if (req.url === '/slow') {
        // never answers
      } else {
        let body = '';
        req.on('data', (c: Buffer) => {
          body += c;
        });
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ method: req.method, body, length: req.headers['content-length'] }));
        });
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function client(options: Parameters<typeof createUpstreamClient>[0] = {}) {
    const c = createUpstreamClient(options);
    clients.push(c);
    return c;
  }

  function send(c: ReturnType<typeof client>, url: string, extra: { body?: string; timeout?: number } = {}) {
    return c.send({
      url: new URL(url),
      method: extra.body ? 'POST' : 'GET',
      headers: { accept: 'application/json' },
      ...(extra.body ? { body: new TextEncoder().encode(extra.body) } : {}),
      headersTimeoutMs: extra.timeout ?? 2000,
    });
  }

  async function text(result: UpstreamResult): Promise<string> {
    if (!result.ok) throw new Error(result.code);
    let out = '';
    for await (const chunk of result.body) out += chunk;
    return out;
  }

  it('refuses a hostname that resolves to a loopback address (localhost) without allowPrivateNetwork', async () => {
    const before = hits;
    const result = await send(client(), `http://localhost:${port}/`);
    expect(result).toMatchObject({ ok: false, code: 'upstream_blocked' });
    expect(hits).toBe(before);
  });

  it.each(['10.0.0.1', '127.0.0.1', '[::1]', '169.254.169.254', '192.168.1.10', '[fd00::1]'])(
    'refuses the private IP literal %s without allowPrivateNetwork, before connecting',
    async (host) => {
      const started = Date.now();
      const result = await send(client(), `http://${host}:${port}/`);
      expect(result).toMatchObject({ ok: false, code: 'upstream_blocked' });
      expect(Date.now() - started).toBeLessThan(100);
    },
  );

  it('reaches localhost when the route opted into private networks, streaming the body both ways', async () => {
    const result = await send(client({ allowPrivateNetwork: true }), `http://localhost:${port}/echo`, {
      body: '{"a":1}',
    });
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(JSON.parse(await text(result))).toEqual({ method: 'POST', body: '{"a":1}', length: '7' });
  });

  it('does not block 10.0.0.1 when the route opted into private networks (it tries to connect)', async () => {
    const result = await send(client({ allowPrivateNetwork: true }), 'http://10.0.0.1:9/', { timeout: 300 });
    // Whatever the network does with it (a timeout, a refusal, an answer), the guard let it go.
    if (result.ok) result.body.resume();
    else expect(result.code).not.toBe('upstream_blocked');
  });

  it('returns a redirect as it is, without following it', async () => {
    const before = hits;
    const result = await send(client({ allowPrivateNetwork: true }), `http://127.0.0.1:${port}/moved`);
    expect(result).toMatchObject({ ok: true, status: 302 });
    if (result.ok) result.body.resume();
    expect(hits).toBe(before + 1);
  });

  it('reports an answer that is not HTTP as upstream_invalid', async () => {
    const result = await send(client({ allowPrivateNetwork: true }), `http://127.0.0.1:${port}/garbage`);
    expect(result).toMatchObject({ ok: false, code: 'upstream_invalid' });
  });

  it('reports a closed port as upstream_refused', async () => {
    const closed = await freePort();
    const result = await send(client({ allowPrivateNetwork: true }), `http://127.0.0.1:${closed}/`);
    expect(result).toMatchObject({ ok: false, code: 'upstream_refused' });
  });

  it('reports no response head within headersTimeoutMs as upstream_timeout', async () => {
    const started = Date.now();
    const result = await send(client({ allowPrivateNetwork: true }), `http://127.0.0.1:${port}/slow`, {
      timeout: 200,
    });
    expect(result).toMatchObject({ ok: false, code: 'upstream_timeout' });
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
