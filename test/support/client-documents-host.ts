import type { IncomingMessage, ServerResponse } from 'node:http';
import { type DemoTls, listenHttps } from '../../functions/local/demo/https-listener.ts';

/** How the host answers one path; the default is the document with `Cache-Control: max-age=300`. */
export interface DocumentBehaviour {
  readonly document?: Record<string, unknown>;
  readonly status?: number;
  readonly headers?: Record<string, string>;
  /** Wait this long before answering (a slow host). */
  readonly delayMs?: number;
  /** Answer with a body of this many bytes instead of the document. */
  readonly bodyBytes?: number;
  /** Answer 302 to this location. */
  readonly redirectTo?: string;
}

export interface ClientDocumentsHost {
  readonly origin: string;
  /** The client_id for a path: the document's URL, byte for byte. */
  url(path: string): string;
  /** Serves a client document at `path` listing `redirectUris`; returns its client_id. */
  publish(path: string, redirectUris: readonly string[], behaviour?: DocumentBehaviour): string;
  /** How many requests reached each path. */
  readonly hits: Map<string, number>;
  stop(): Promise<void>;
}

/**
 * MCP clients' Client ID Metadata Documents, served over HTTPS on 127.0.0.1 with the development
 * certificate, counting every fetch, with switchable misbehaviour (slow, oversized, redirecting,
 * wrong client_id) for refusal tests.
 */
export async function startClientDocumentsHost(tls: DemoTls): Promise<ClientDocumentsHost> {
  const listener = await listenHttps(0, tls);
  const routes = new Map<string, DocumentBehaviour & { document: Record<string, unknown> }>();
  const hits = new Map<string, number>();
  listener.serve(async (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const entry = routes.get(path);
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    if (entry.delayMs) await new Promise((r) => setTimeout(r, entry.delayMs));
    if (res.destroyed) return;
    if (entry.redirectTo) {
      res.writeHead(302, { location: entry.redirectTo }).end();
      return;
    }
    const body = entry.bodyBytes
      ? JSON.stringify({ ...entry.document, padding: 'x'.repeat(entry.bodyBytes) })
      : JSON.stringify(entry.document);
    res.writeHead(entry.status ?? 200, {
      'content-type': 'application/json',
      'cache-control': 'public, max-age=300',
      ...entry.headers,
    });
    res.end(body);
  });
  const url = (path: string) => `${listener.origin}${path}`;
  return {
    origin: listener.origin,
    url,
    hits,
    publish(path, redirectUris, behaviour = {}) {
      const clientId = url(path);
      routes.set(path, {
        ...behaviour,
        document: behaviour.document ?? {
          client_id: clientId,
          client_name: `Test client ${path}`,
          client_uri: listener.origin,
          redirect_uris: [...redirectUris],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
      });
      return clientId;
    },
    stop: listener.stop,
  };
}
