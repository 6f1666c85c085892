import { createServer, type Server } from 'node:http';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOutboundFetch, OutboundFetchError } from '../../../functions/core/http/outbound-fetch.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { createTlsFixture, type TestServer, type TlsFixture } from './https-fixture.ts';

describe('createOutboundFetch', () => {
  let tls: TlsFixture;
  let server: TestServer;
  let plain: Server;
  let plainPort: number;
  const seen: { method?: string; body?: string; type?: string }[] = [];

  beforeAll(async () => {
    tls = createTlsFixture();
    server = await tls.start((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push({ method: req.method, body, type: req.headers['content-type'] });
        if (req.url === '/token') {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'invalid_grant', error_description: 'expired' }));
        } else if (req.url === '/moved') {
          res.writeHead(307, { location: 'http://169.254.169.254/' });
          res.end();
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"ok":true}');
        }
      });
    });
    plainPort = await freePort();
    plain = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => plain.listen(plainPort, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await server?.close();
    await tls?.stop();
    await new Promise((r) => plain?.close(r));
  });

  it('POSTs form bodies and hands 4xx OAuth errors back to the protocol library', async () => {
    const fetch = createOutboundFetch({ allowPrivateNetwork: true, ca: tls.cert });
    const res = await fetch(`${server.origin}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_grant', error_description: 'expired' });
    expect(seen.at(-1)).toEqual({
      method: 'POST',
      body: 'grant_type=refresh_token&refresh_token=r',
      type: 'application/x-www-form-urlencoded;charset=UTF-8',
    });
  });

  it('works as oauth4webapi customFetch', async () => {
    const fetch = createOutboundFetch({ allowPrivateNetwork: true, ca: tls.cert });
    const as = { issuer: server.origin, token_endpoint: `${server.origin}/token` };
    const response = await oauth.refreshTokenGrantRequest(as, { client_id: 'c' }, oauth.None(), 'r', {
      [oauth.customFetch]: fetch as never,
    });
    await expect(oauth.processRefreshTokenResponse(as, { client_id: 'c' }, response)).rejects.toMatchObject({
      error: 'invalid_grant',
    });
  });

  it('refuses loopback unless the route opted into private networks', async () => {
    const fetch = createOutboundFetch({ ca: tls.cert });
    await expect(fetch(`${server.origin}/x`)).rejects.toMatchObject({ code: 'ssrf.private_address' });
    await expect(fetch('https://[::ffff:127.0.0.1]/x')).rejects.toBeInstanceOf(OutboundFetchError);
    await expect(fetch('https://169.254.169.254/latest/meta-data')).rejects.toMatchObject({
      code: 'ssrf.private_address',
    });
  });

  it("honours the caller's abort signal (a refresh lease's deadline)", async () => {
    const fetch = createOutboundFetch({ allowPrivateNetwork: true, ca: tls.cert });
    await expect(fetch(`${server.origin}/x`, { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'fetch.timeout',
    });
  });

  it('refuses redirects, plain http (unless allowed) and unusual methods', async () => {
    const fetch = createOutboundFetch({ allowPrivateNetwork: true, ca: tls.cert });
    await expect(fetch(`${server.origin}/moved`)).rejects.toMatchObject({ code: 'fetch.redirect_refused' });
    await expect(fetch(`http://127.0.0.1:${plainPort}/`)).rejects.toMatchObject({ code: 'fetch.not_https' });
    await expect(fetch(`${server.origin}/x`, { method: 'DELETE' })).rejects.toMatchObject({
      code: 'fetch.method',
    });
    const insecure = createOutboundFetch({ allowPrivateNetwork: true, allowHttp: true });
    expect((await insecure(`http://127.0.0.1:${plainPort}/`)).status).toBe(200);
  });
});
