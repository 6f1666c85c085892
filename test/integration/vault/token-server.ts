import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type TokenServerMode = 'ok' | 'server_error' | 'no_rotation' | 'invalid_client' | 'dpop_token';

/**
 * A minimal RFC 6749 token endpoint on 127.0.0.1 for the refresh grant: it rotates refresh
 * tokens (a used one is invalid afterwards, answered with `invalid_grant`), counts requests,
 * and can be switched to failing modes. Responses carry `Cache-Control: no-store` (§5.1).
 */
export interface TokenServer {
  readonly tokenEndpoint: string;
  /** Refresh grant requests received (every answer counts, also errors). */
  readonly requests: number;
  /** The form bodies received, for checking `client_id` and `resource`. */
  readonly bodies: URLSearchParams[];
  mode: TokenServerMode;
  /** Milliseconds to hold each answer, to widen races. */
  delayMs: number;
  /** A refresh token the server will accept once. */
  issueRefreshToken(): string;
  /** Forgets every refresh token (as a revocation at the authorization server would). */
  revokeAll(): void;
  stop(): Promise<void>;
}

const token = (prefix: string) => `${prefix}-${randomBytes(12).toString('base64url')}`;

export async function startTokenServer(): Promise<TokenServer> {
  const valid = new Set<string>();
  const state = { requests: 0, bodies: [] as URLSearchParams[], mode: 'ok' as TokenServerMode, delayMs: 0 };

  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    if (req.method !== 'POST' || req.url !== '/token') return answer(res, 404, { error: 'not_found' });
    state.requests++;
    const form = new URLSearchParams(raw);
    state.bodies.push(form);
    if (state.delayMs > 0) await new Promise((r) => setTimeout(r, state.delayMs));
    if (state.mode === 'server_error') {
      res.writeHead(503, { 'content-type': 'text/plain' });
      return res.end('upstream down');
    }
    if (state.mode === 'invalid_client') return answer(res, 400, { error: 'invalid_client' });
    if (form.get('grant_type') !== 'refresh_token')
      return answer(res, 400, { error: 'unsupported_grant_type' });
    const presented = form.get('refresh_token') ?? '';
    if (!valid.has(presented)) return answer(res, 400, { error: 'invalid_grant' });
    const body: Record<string, unknown> = {
      access_token: token('at'),
      token_type: state.mode === 'dpop_token' ? 'DPoP' : 'Bearer',
      expires_in: 3600,
      scope: 'read write',
    };
    if (state.mode !== 'no_rotation') {
      valid.delete(presented);
      const next = token('rt');
      valid.add(next);
      body.refresh_token = next;
    }
    answer(res, 200, body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => answer(res, 500, { error: 'server_error' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    tokenEndpoint: `http://127.0.0.1:${port}/token`,
    get requests() {
      return state.requests;
    },
    get bodies() {
      return state.bodies;
    },
    get mode() {
      return state.mode;
    },
    set mode(mode) {
      state.mode = mode;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms) {
      state.delayMs = ms;
    },
    issueRefreshToken() {
      const rt = token('rt');
      valid.add(rt);
      return rt;
    },
    revokeAll() {
      valid.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
