import type { IncomingHttpHeaders } from 'node:http';
import { Agent, createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';

const FORWARDED = ['content-type', 'content-length', 'accept', 'mcp-protocol-version', 'mcp-session-id'];
const RETURNED = ['content-type', 'cache-control', 'mcp-session-id', 'mcp-protocol-version'];

function pick(headers: IncomingHttpHeaders, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = headers[name];
    if (typeof value === 'string') out[name] = value;
  }
  return out;
}

export interface BareProxy {
  /** `https://localhost:PORT` */
  readonly origin: string;
  stop(): Promise<void>;
}

/**
 * The peer the gateway is held against: the least a Node pass-through proxy does — one keep-alive
 * agent to the upstream, a handful of headers copied, the upstream token added, bodies piped both
 * ways as they arrive. No authentication, no vault, no sealing, no Fetch-API objects.
 */
export async function startBareProxy(options: {
  tls: { cert: string; key: string };
  ca: string;
  upstream: string;
  upstreamToken: string;
}): Promise<BareProxy> {
  const target = new URL(options.upstream);
  const agent = new Agent({ keepAlive: true, ca: options.ca });
  const server = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
    const upstream = request(
      target,
      {
        method: req.method,
        agent,
        headers: { ...pick(req.headers, FORWARDED), authorization: `Bearer ${options.upstreamToken}` },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, pick(answer.headers, RETURNED));
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://localhost:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
