import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway self-signed certificate and HTTPS servers on 127.0.0.1 for tests that need a real TLS
 * peer. The certificate names localhost, 127.0.0.1 and `cimd.test` (a name only an injected resolver
 * knows). Call `stop()` in `afterAll`.
 */
export interface TlsFixture {
  readonly dir: string;
  readonly certFile: string;
  readonly cert: string;
  readonly key: string;
  start(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer>;
  stop(): Promise<void>;
}

export interface TestServer {
  readonly port: number;
  readonly origin: string;
  /** Requests the server has seen. */
  readonly hits: number;
  close(): Promise<void>;
}

export function createTlsFixture(): TlsFixture {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-edge-tls-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,DNS:cimd.test,IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(keyFile, 'utf8');
  const cert = readFileSync(certFile, 'utf8');
  const servers: TestServer[] = [];

  return {
    dir,
    certFile,
    cert,
    key,
    async start(handler) {
      let hits = 0;
      const server: Server = createServer({ key, cert }, (req, res) => {
        hits += 1;
        handler(req, res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      const started: TestServer = {
        port,
        origin: `https://127.0.0.1:${port}`,
        get hits() {
          return hits;
        },
        close: () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      };
      servers.push(started);
      return started;
    },
    async stop() {
      await Promise.all(servers.splice(0).map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
