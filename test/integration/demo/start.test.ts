import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalDemo } from '../../../functions/local/demo/start.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../../functions/local/tls.ts';

let dir: string;
let cert: DevCertificate;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-edge-demo-start-'));
  cert = await ensureDevCertificate(dir);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('startLocalDemo', () => {
  it('gives every route origin a login callback at the identity provider', async () => {
    const demo = await startLocalDemo({
      routeOrigins: ['https://localhost:8443', 'https://localhost:8444'],
      tls: cert,
      ca: cert.ca,
      ports: { identityProvider: 0, upstream: 0, upstreamAuthorizationServer: 0 },
    });
    try {
      const client = await demo.identityProvider.provider.Client.find(demo.identityProvider.clientId);
      expect(client?.redirectUris).toEqual([
        'https://localhost:8443/.pomerium/login/callback',
        'https://localhost:8444/.pomerium/login/callback',
      ]);
      expect(demo.upstream.mcpUrl).toMatch(/^https:\/\/localhost:\d+\/mcp$/);
    } finally {
      await demo.stop();
    }
  });

  it('names a busy port and leaves nothing listening when one party cannot start', async () => {
    const busy = await listen(0);
    const busyPort = (busy.address() as { port: number }).port;
    const upstreamPort = await freePort();
    try {
      const error = await startLocalDemo({
        routeOrigins: ['https://localhost:8443'],
        tls: cert,
        ca: cert.ca,
        ports: { identityProvider: busyPort, upstream: upstreamPort, upstreamAuthorizationServer: 0 },
      }).catch((e: unknown) => e);
      expect(String(error)).toContain(`port ${busyPort}`);
      await close(await listen(upstreamPort));
    } finally {
      await close(busy);
    }
  });
});
