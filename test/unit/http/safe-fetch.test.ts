import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Resolver, safeFetch } from '../../../functions/core/http/safe-fetch.ts';
import { createTlsFixture, type TestServer, type TlsFixture } from './https-fixture.ts';

const DOC = JSON.stringify({ client_id: 'x', client_name: 'y', redirect_uris: ['https://a.example/cb'] });

describe('safeFetch', () => {
  let tls: TlsFixture;
  let server: TestServer;
  let port: number;
  let seenHost: string | undefined;

  beforeAll(async () => {
    tls = createTlsFixture();
    server = await tls.start((req, res) => {
      seenHost = req.headers.host;
      switch (req.url) {
        case '/doc.json':
          res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
          res.end(DOC);
          return;
        case '/redirect':
          res.writeHead(302, { location: 'https://169.254.169.254/latest/meta-data' });
          res.end();
          return;
        case '/big-declared':
          res.writeHead(200, { 'content-length': '6000' });
          res.end('x'.repeat(6000));
          return;
        case '/big-chunked':
          res.writeHead(200, { 'content-type': 'application/json' });
          for (let i = 0; i < 10; i++) res.write('y'.repeat(1000));
          res.end();
          return;
        case '/slow':
          // Headers promptly, body never: the timeout must cover the body too.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{');
          return;
        case '/silent':
          return;
        default:
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('secret internal detail that must not leak');
      }
    });
    port = server.port;
  });

  afterAll(async () => {
    await tls.stop();
  });

  const local = () => ({ allowPrivateNetwork: true, ca: tls.cert });

  it('refuses a loopback address without allowPrivateNetwork, before connecting', async () => {
    const before = server.hits;
    const result = await safeFetch(`https://127.0.0.1:${port}/doc.json`, { ca: tls.cert });
    expect(result).toMatchObject({ ok: false, code: 'ssrf.private_address', address: '127.0.0.1' });
    expect(server.hits).toBe(before);
  });

  it.each(['2130706433', '0177.0.0.1', '0x7f.1', '127.1', '[::ffff:127.0.0.1]'])(
    'refuses the hostile literal host %s',
    async (host) => {
      const result = await safeFetch(`https://${host}:${port}/doc.json`, { ca: tls.cert });
      expect(result).toMatchObject({ ok: false, code: 'ssrf.private_address' });
    },
  );

  it('fetches a 200 document when private networks are allowed', async () => {
    const result = await safeFetch(`https://localhost:${port}/doc.json`, local());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.status).toBe(200);
    expect(new TextDecoder().decode(result.body)).toBe(DOC);
    expect(result.headers.get('cache-control')).toBe('max-age=60');
    expect(['127.0.0.1', '::ffff:127.0.0.1']).toContain(result.address);
    expect(seenHost).toBe(`localhost:${port}`);
  });

  it('checks the certificate: an untrusted CA fails with fetch.tls', async () => {
    const result = await safeFetch(`https://localhost:${port}/doc.json`, { allowPrivateNetwork: true });
    expect(result).toMatchObject({ ok: false, code: 'fetch.tls' });
  });

  it('refuses a redirect and names its Location', async () => {
    const result = await safeFetch(`https://localhost:${port}/redirect`, local());
    expect(result).toMatchObject({ ok: false, code: 'fetch.redirect_refused', status: 302 });
    if (!result.ok) expect(result.message).toContain('169.254.169.254');
  });

  it('refuses a body larger than maxBytes by Content-Length', async () => {
    const result = await safeFetch(`https://localhost:${port}/big-declared`, local());
    expect(result).toMatchObject({ ok: false, code: 'fetch.too_large' });
  });

  it('refuses a chunked body larger than maxBytes by counting', async () => {
    const result = await safeFetch(`https://localhost:${port}/big-chunked`, local());
    expect(result).toMatchObject({ ok: false, code: 'fetch.too_large' });
    const bigger = await safeFetch(`https://localhost:${port}/big-chunked`, { ...local(), maxBytes: 20_000 });
    expect(bigger.ok).toBe(true);
  });

  it('times out a response whose body never finishes', async () => {
    const started = Date.now();
    const result = await safeFetch(`https://localhost:${port}/slow`, { ...local(), timeoutMs: 200 });
    expect(result).toMatchObject({ ok: false, code: 'fetch.timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('times out a server that never answers', async () => {
    const result = await safeFetch(`https://localhost:${port}/silent`, { ...local(), timeoutMs: 200 });
    expect(result).toMatchObject({ ok: false, code: 'fetch.timeout' });
  });

  it('times out a resolver that never answers', async () => {
    const lookup: Resolver = () => new Promise(() => {});
    const result = await safeFetch(`https://cimd.test:${port}/doc.json`, {
      ...local(),
      lookup,
      timeoutMs: 100,
    });
    expect(result).toMatchObject({ ok: false, code: 'fetch.timeout' });
  });

  it('accepts only 200, without echoing the error body', async () => {
    const result = await safeFetch(`https://localhost:${port}/missing`, local());
    expect(result).toMatchObject({ ok: false, code: 'fetch.status', status: 404 });
    if (!result.ok) expect(result.message).not.toContain('secret internal detail');
  });

  it('fetches only https', async () => {
    expect(await safeFetch(`http://localhost:${port}/doc.json`, local())).toMatchObject({
      ok: false,
      code: 'fetch.not_https',
    });
    expect(await safeFetch('not a url', local())).toMatchObject({ ok: false, code: 'fetch.invalid_url' });
  });

  it('reports a resolver failure as fetch.dns', async () => {
    const lookup: Resolver = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    };
    expect(await safeFetch('https://nowhere.test/doc.json', { lookup })).toMatchObject({
      ok: false,
      code: 'fetch.dns',
    });
    expect(await safeFetch('https://nowhere.test/doc.json', { lookup: async () => [] })).toMatchObject({
      ok: false,
      code: 'fetch.dns',
    });
  });

  it('refuses a name that resolves to loopback, before any connection', async () => {
    const before = server.hits;
    let calls = 0;
    const lookup: Resolver = async () => {
      calls += 1;
      return [{ address: '127.0.0.1', family: 4 }];
    };
    const result = await safeFetch(`https://cimd.test:${port}/doc.json`, { ca: tls.cert, lookup });
    expect(result).toMatchObject({ ok: false, code: 'ssrf.private_address', address: '127.0.0.1' });
    expect(calls).toBe(1);
    expect(server.hits).toBe(before);
  });

  it('refuses a name when any one of its addresses is private', async () => {
    const lookup: Resolver = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ];
    const result = await safeFetch('https://cimd.test/doc.json', { lookup });
    expect(result).toMatchObject({ ok: false, code: 'ssrf.private_address', address: '169.254.169.254' });
  });

  it('connects to the address it checked, resolving only once (no DNS-rebinding gap)', async () => {
    // cimd.test exists only in this resolver. A second resolution would get an address nothing
    // listens on; the fetch succeeds only if the socket goes to the first, checked answer.
    let calls = 0;
    const lookup: Resolver = async () => {
      calls += 1;
      return calls === 1 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '10.255.255.1', family: 4 }];
    };
    const result = await safeFetch(`https://cimd.test:${port}/doc.json`, { ...local(), lookup });
    expect(result).toMatchObject({ ok: true, status: 200 });
    expect(calls).toBe(1);
    expect(seenHost).toBe(`cimd.test:${port}`);
  });

  it('verifies the certificate against the host name, not the pinned address', async () => {
    const lookup: Resolver = async () => [{ address: '127.0.0.1', family: 4 }];
    const result = await safeFetch(`https://other.test:${port}/doc.json`, { ...local(), lookup });
    expect(result).toMatchObject({ ok: false, code: 'fetch.tls' });
  });
});
