import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as jose from 'jose';
import { z } from 'zod';
import type { RequestHandler } from './https-listener.ts';

export interface DemoMcpServerOptions {
  /** The MCP URL, `https://localhost:PORT/mcp`: the resource identifier and the tokens' `aud`. */
  readonly resource: string;
  /** The authorization server whose tokens are accepted (`iss`). */
  readonly issuer: string;
  /** Its public signing keys. */
  readonly jwks: jose.JSONWebKeySet;
  /** The scope every call needs. */
  readonly scope: string;
}

/** A JSON answer that is never cached (the demo parties' and the tests' upstreams). */
export function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function createServer(): McpServer {
  const server = new McpServer({ name: 'mcp-edge-demo-upstream', version: '1.0.0' });
  server.registerTool(
    'whoami',
    {
      description: 'Who the access token was issued to: its subject and OAuth client.',
      outputSchema: { sub: z.string(), client_id: z.string(), scope: z.string() },
    },
    (extra) => {
      const auth = extra.authInfo;
      const result = {
        sub: String(auth?.extra?.sub ?? ''),
        client_id: auth?.clientId ?? '',
        scope: auth?.scopes.join(' ') ?? '',
      };
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  server.registerTool(
    'echo',
    { description: 'Returns the text it is given.', inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

/** The upstream's protected resource metadata paths and document (RFC 9728), for its own handlers. */
export function resourceMetadata(options: DemoMcpServerOptions) {
  const resource = new URL(options.resource);
  return {
    url: `${resource.origin}/.well-known/oauth-protected-resource${resource.pathname}`,
    paths: new Set([
      `/.well-known/oauth-protected-resource${resource.pathname}`,
      '/.well-known/oauth-protected-resource',
    ]),
    document: {
      resource: options.resource,
      authorization_servers: [options.issuer],
      scopes_supported: [options.scope],
      bearer_methods_supported: ['header'],
      resource_name: 'MCP Edge demo upstream',
    },
  };
}

export type BearerCheck =
  | { ok: true; auth: AuthInfo }
  | { ok: false; status: 401 | 403; error: string; challenge: string };

/**
 * The upstream's bearer check (RFC 6750, RFC 9068): a JWT from its own authorization server,
 * `typ` at+jwt, `iss`, `aud` = the MCP URL, the scope; anything else gets the challenge that points
 * MCP clients at the metadata. Shared by the demo server and the tests' upstreams.
 */
export function createBearerCheck(
  options: DemoMcpServerOptions,
): (req: IncomingMessage) => Promise<BearerCheck> {
  const resource = new URL(options.resource);
  const metadataUrl = resourceMetadata(options).url;
  const keys = jose.createLocalJWKSet(options.jwks);
  const challenge = (error?: string) =>
    [
      `Bearer resource_metadata="${metadataUrl}"`,
      `scope="${options.scope}"`,
      ...(error ? [`error="${error}"`] : []),
    ].join(', ');
  return async (req) => {
    const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(req.headers.authorization ?? '');
    // RFC 6750 §3.1: no error code when the request carried no credentials at all.
    if (!match) return { ok: false, status: 401, error: 'unauthorized', challenge: challenge() };
    const token = match[1]!;
    let payload: jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.resource,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'sub', 'client_id'],
      }));
    } catch {
      return { ok: false, status: 401, error: 'invalid_token', challenge: challenge('invalid_token') };
    }
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    if (!scopes.includes(options.scope)) {
      return {
        ok: false,
        status: 403,
        error: 'insufficient_scope',
        challenge: challenge('insufficient_scope'),
      };
    }
    return {
      ok: true,
      auth: {
        token,
        clientId: String(payload.client_id),
        scopes,
        expiresAt: payload.exp,
        resource,
        extra: { sub: payload.sub },
      },
    };
  };
}

/**
 * The demo upstream MCP server as an OAuth protected resource: RFC 9728 metadata at
 * `/.well-known/oauth-protected-resource/mcp` (and the root path), and `/mcp` over Streamable HTTP
 * (MCP SDK v1, stateless: a server and transport per request) for requests with a valid bearer
 * JWT (see {@link createBearerCheck}).
 */
/**
 * Answers every request that is not for the MCP endpoint itself: the RFC 9728 metadata (GET/HEAD,
 * else 405) and 404 for any other path. Returns false, having answered nothing, for the MCP path.
 * Shared by the demo server and the tests' upstreams.
 */
export function answerOutsideMcpPath(
  options: DemoMcpServerOptions,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const resource = new URL(options.resource);
  const metadata = resourceMetadata(options);
  return (req, res) => {
    const path = new URL(req.url ?? '/', resource.origin).pathname;
    if (metadata.paths.has(path)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        json(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
      } else {
        json(res, 200, metadata.document, { 'access-control-allow-origin': '*' });
      }
      return true;
    }
    if (path !== resource.pathname) {
      json(res, 404, { error: 'not_found' });
      return true;
    }
    return false;
  };
}

export function demoMcpHandler(options: DemoMcpServerOptions): RequestHandler {
  const outside = answerOutsideMcpPath(options);
  const authenticate = createBearerCheck(options);

  return async (req, res) => {
    if (outside(req, res)) return;
    const authenticated = await authenticate(req);
    if (!authenticated.ok) {
      const { status, error } = authenticated;
      json(res, status, { error }, { 'www-authenticate': authenticated.challenge });
      return;
    }
    if (req.method !== 'POST') {
      // Stateless: no standalone SSE stream (GET) and no session to end (DELETE).
      json(
        res,
        405,
        { jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null },
        { allow: 'POST' },
      );
      return;
    }
    const server = createServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(Object.assign(req, { auth: authenticated.auth }), res);
  };
}
