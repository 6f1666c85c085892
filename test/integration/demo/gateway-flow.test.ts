import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../functions/core/config/parse.ts';
import { type LocalDemo, startLocalDemo } from '../../../functions/local/demo/start.ts';
import type { DemoUpstream } from '../../../functions/local/demo/upstream.ts';
import { type LocalGateway, startLocalGateway } from '../../../functions/local/gateway.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../../functions/local/tls.ts';
import { HttpBrowser } from '../../support/http-browser.ts';

let dir: string;
let cert: DevCertificate;
let origin: string;
let demo: LocalDemo;
let upstream: DemoUpstream;
let gateway: LocalGateway;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-edge-demo-flow-'));
  cert = await ensureDevCertificate(dir);
  origin = `https://localhost:${await freePort()}`;
  demo = await startLocalDemo({
    routeOrigins: [origin],
    tls: cert,
    ca: cert.ca,
    ports: { identityProvider: 0, upstream: 0, upstreamAuthorizationServer: 0 },
  });
  upstream = demo.upstream;
  const parsed = parseConfig({
    routes: [{ from: origin, to: upstream.mcpUrl, name: 'Demo tools', allowPrivateNetwork: true }],
  });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  gateway = await startLocalGateway({
    config: parsed.config,
    tls: cert,
    ca: cert.ca,
    idp: { issuer: demo.identityProvider.issuer, clientId: demo.identityProvider.clientId },
  });
});

afterAll(async () => {
  await Promise.all([gateway?.stop(), demo?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

describe('the local demo through the real gateway', () => {
  it('signs a person in at the demo IdP and connects the route to the demo upstream with its CIMD', async () => {
    const browser = new HttpBrowser(cert.ca);
    try {
      const end = await browser.follow(
        new URL(`${origin}/.pomerium/connect?return_to=${encodeURIComponent('/.pomerium/connections')}`),
        'alice',
      );
      expect(end.status).toBe(200);
      expect(end.url.href).toBe(`${origin}/.pomerium/connections`);
      // The IdP's login (consent is automatic), then the upstream's login and consent.
      expect(browser.prompts).toEqual(['login', 'login', 'consent']);
      expect(upstream.fetchedCimds).toEqual([`${origin}/.well-known/mcp-client-metadata.json`]);
      expect(upstream.tokenRequests()).toBe(1);

      const res = await browser.request(new URL(`${origin}/.pomerium/connections`), {
        accept: 'application/json',
      });
      expect(JSON.parse(res.body)).toMatchObject({
        user: 'alice@example.com',
        connections: [{ route: origin, connected: true, issuer: upstream.issuer, scopes: ['mcp:tools'] }],
      });
    } finally {
      await browser.close();
    }
  });
});
