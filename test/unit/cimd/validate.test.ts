import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cacheLifetimeSeconds,
  fetchAndValidateClientMetadata,
  MAX_CACHE_SECONDS,
  MIN_CACHE_SECONDS,
} from '../../../functions/core/cimd/validate.ts';
import { createTlsFixture, type TestServer, type TlsFixture } from '../http/https-fixture.ts';

describe('cacheLifetimeSeconds', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it.each([
    [{ 'cache-control': 'max-age=3600' }, 3600],
    [{ 'Cache-Control': 'public, max-age=600, s-maxage=86400' }, 600],
    [{ 'cache-control': 'max-age="120"' }, 120],
    [{ 'cache-control': 'max-age=5' }, MIN_CACHE_SECONDS],
    [{ 'cache-control': 'max-age=0' }, MIN_CACHE_SECONDS],
    [{ 'cache-control': 'max-age=31536000' }, MAX_CACHE_SECONDS],
    [{ 'cache-control': 'no-store' }, 0],
    [{ 'cache-control': 'public, NO-STORE, max-age=600' }, 0],
    [{ 'cache-control': 'no-cache, max-age=600' }, MIN_CACHE_SECONDS],
    [{ 'cache-control': 'max-age=soon', expires: 'Thu, 01 Jan 2026 00:10:00 GMT' }, 600],
    [{ expires: 'Thu, 01 Jan 2026 01:00:00 GMT' }, 3600],
    [{ expires: 'Thu, 01 Jan 2026 01:00:00 GMT', date: 'Thu, 01 Jan 2026 00:30:00 GMT' }, 1800],
    [{ expires: 'Wed, 31 Dec 2025 00:00:00 GMT' }, MIN_CACHE_SECONDS],
    [{ expires: '0' }, MIN_CACHE_SECONDS],
    [{ 'cache-control': 'max-age=120', expires: 'Fri, 02 Jan 2026 00:00:00 GMT' }, 120],
    [{}, MIN_CACHE_SECONDS],
  ])('gives %j a lifetime of %i s', (headers, seconds) => {
    expect(cacheLifetimeSeconds(headers, now)).toBe(seconds);
  });

  it('reads a Headers object', () => {
    expect(cacheLifetimeSeconds(new Headers({ 'cache-control': 'max-age=900' }))).toBe(900);
  });
});

describe('fetchAndValidateClientMetadata', () => {
  let tls: TlsFixture;
  let server: TestServer;
  const docFor = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ client_id: id, client_name: 'Test', redirect_uris: ['http://127.0.0.1/cb'], ...extra });

  beforeAll(async () => {
    tls = createTlsFixture();
    server = await tls.start((req, res) => {
      const self = `https://localhost:${server.port}${req.url}`;
      if (req.url === '/good.json') {
        res.writeHead(200, {
          'content-type': 'application/json; charset=utf-8',
          'cache-control': 'public, max-age=3600',
          etag: '"abc"',
          'last-modified': 'Thu, 01 Jan 2026 00:00:00 GMT',
        });
        res.end(docFor(self));
      } else if (req.url === '/mismatch.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(docFor(`https://127.0.0.1:${server.port}/mismatch.json`));
      } else if (req.url === '/secret.json') {
        res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=3600' });
        res.end(docFor(self, { client_secret: 'x' }));
      } else if (req.url === '/not-json.json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('<html>');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  });

  afterAll(async () => {
    await tls.stop();
  });

  const options = () => ({ allowPrivateNetwork: true, ca: tls.cert });

  it('returns the document, the caching headers and the cache lifetime', async () => {
    const result = await fetchAndValidateClientMetadata(
      `https://localhost:${server.port}/good.json`,
      options(),
    );
    expect(result).toMatchObject({
      ok: true,
      warnings: [],
      caching: {
        cacheControl: 'public, max-age=3600',
        etag: '"abc"',
        lastModified: 'Thu, 01 Jan 2026 00:00:00 GMT',
      },
      cacheLifetimeSeconds: 3600,
      document: { client_name: 'Test' },
    });
  });

  it('stops at the URL rules before fetching', async () => {
    const before = server.hits;
    const result = await fetchAndValidateClientMetadata(
      `https://localhost:${server.port}/a/../good.json`,
      options(),
    );
    expect(result).toMatchObject({ ok: false, stage: 'url', errors: [{ rule: 'url.dot_segment' }] });
    expect(server.hits).toBe(before);
  });

  it('reports fetch failures by their code', async () => {
    const url = `https://localhost:${server.port}/good.json`;
    expect(await fetchAndValidateClientMetadata(url, { ca: tls.cert })).toMatchObject({
      ok: false,
      stage: 'fetch',
      errors: [{ rule: 'ssrf.private_address' }],
    });
    expect(
      await fetchAndValidateClientMetadata(`https://localhost:${server.port}/missing.json`, options()),
    ).toMatchObject({ ok: false, stage: 'fetch', errors: [{ rule: 'fetch.status' }] });
  });

  it('requires client_id to equal the fetched URL exactly', async () => {
    const result = await fetchAndValidateClientMetadata(
      `https://localhost:${server.port}/mismatch.json`,
      options(),
    );
    expect(result).toMatchObject({
      ok: false,
      stage: 'document',
      errors: [{ rule: 'doc.client_id_mismatch' }],
    });
  });

  it('applies the document rules, warns about the content type, and offers no cache lifetime', async () => {
    const result = await fetchAndValidateClientMetadata(
      `https://localhost:${server.port}/secret.json`,
      options(),
    );
    expect(result).toMatchObject({
      ok: false,
      stage: 'document',
      errors: [{ rule: 'doc.client_secret_forbidden' }],
      warnings: [{ rule: 'doc.content_type' }],
    });
    expect(result).not.toHaveProperty('cacheLifetimeSeconds');
  });

  it('refuses a body that is not JSON', async () => {
    const result = await fetchAndValidateClientMetadata(
      `https://localhost:${server.port}/not-json.json`,
      options(),
    );
    expect(result).toMatchObject({ ok: false, errors: [{ rule: 'doc.invalid_json' }] });
  });
});
