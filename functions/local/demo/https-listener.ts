import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** PEM certificate and key a demo server presents (the development certificate). */
export interface DemoTls {
  readonly cert: string;
  readonly key: string;
}

/**
 * An HTTPS listener on 127.0.0.1 whose handler is attached after it is bound. Binding first lets a
 * caller ask for port 0 and learn its origin (`https://localhost:PORT`) before building what
 * needs that origin (an issuer, a resource URL); requests that arrive before `serve` get a 503.
 */
export interface HttpsListener {
  readonly port: number;
  /** `https://localhost:PORT`: the development certificate names localhost, not the IP. */
  readonly origin: string;
  serve(handler: RequestHandler): void;
  stop(): Promise<void>;
}

export async function listenHttps(port: number, tls: DemoTls): Promise<HttpsListener> {
  let handler: RequestHandler | undefined;
  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    if (!handler) {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('starting\n');
      return;
    }
    Promise.resolve(handler(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new Error(`port ${port} on 127.0.0.1 is already in use`) : error),
    );
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  return {
    port: bound,
    origin: `https://localhost:${bound}`,
    serve(next) {
      handler = next;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
