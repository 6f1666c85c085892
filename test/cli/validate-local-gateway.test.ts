import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run as validate } from '../../cli/cimd-validate.ts';
import { startTestGateway, type TestGateway } from '../support/local-gateway.ts';
import { captureIo } from './capture-io.ts';

describe('mcp-edge cimd validate against the local gateway', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway(2, (origins) =>
      origins.map((from, i) => ({ from, to: 'https://up.example.net/mcp', name: `Route ${i}` })),
    );
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("accepts every route's served document and reports its caching headers", async () => {
    for (const route of gw.gateway.routes) {
      const io = captureIo();
      const code = await validate(
        [route.cimdUrl, '--allow-private-network', '--ca', gw.cert.caPath, '--json'],
        io,
      );
      expect(code, io.output).toBe(0);
      const result = JSON.parse(io.stdout);
      expect(result.valid).toBe(true);
      expect(result.errors).toEqual([]);
      expect(result.caching.cacheControl).toBe('public, max-age=3600, s-maxage=86400');
      expect(result.cacheLifetimeSeconds).toBe(3600);
    }
  });

  it('refuses the same URL without --allow-private-network (SSRF rule)', async () => {
    const io = captureIo();
    expect(await validate([gw.gateway.routes[0]!.cimdUrl, '--ca', gw.cert.caPath], io)).toBe(1);
    expect(io.output).toContain('ssrf.private_address');
  });

  it('refuses a URL the gateway does not serve (status rule) and a client_id that differs from the URL', async () => {
    const route = gw.gateway.routes[0]!;
    const missing = captureIo();
    expect(
      await validate(
        [`${route.origin}/.well-known/other.json`, '--allow-private-network', '--ca', gw.cert.caPath],
        missing,
      ),
    ).toBe(1);
    expect(missing.output).toContain('fetch.status');
    // Same document reached through 127.0.0.1 instead of localhost: client_id no longer matches.
    const other = route.cimdUrl.replace('localhost', '127.0.0.1');
    const mismatch = captureIo();
    expect(await validate([other, '--allow-private-network', '--ca', gw.cert.caPath], mismatch)).toBe(1);
  });
});
