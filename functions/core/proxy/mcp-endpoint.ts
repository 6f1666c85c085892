import type { AccessTokenClaims, AccessTokenVerifier } from '../authorization/access-token.ts';
import type { ConnectLinks } from '../connect/connect-links.ts';
import { readLimited } from '../http/body.ts';
import { HttpError } from '../http/errors.ts';
import { bearerChallengeParams } from '../oauth/www-authenticate.ts';
import type { Route, RouteTable } from '../routes.ts';
import { telemetryOf } from '../telemetry.ts';
import { routeOf } from '../web/request-context.ts';
import { type ConnectContext, connectRequired } from './connect-required.ts';
import type { GrantChecks } from './grant-checks.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { authenticate, challenge, MCP_CORS } from './inbound-auth.ts';
import { type ClientMessage, jsonRpcRefusal, parseClientMessage } from './jsonrpc.ts';
import { checkMethodHeaders } from './method-headers.ts';
import { withoutGatewayRetryState } from './request-state.ts';
import type { Sealer } from './sealed-values.ts';
import { proxyBody } from './sse-keepalive.ts';
import type { UpstreamClient, UpstreamResult } from './upstream-client.ts';
import type { UpstreamTokens } from './upstream-tokens.ts';

export interface ProxyLimits {
  /** Largest request body (`413` above). Default 4 MiB. */
  readonly maxBodyBytes: number;
  /**
   * Until the upstream's response head (`504` after). Default 55 s: CloudFront gives up on an
   * origin that sends nothing for 60 s, so a slower upstream gets a clear answer instead.
   */
  readonly headersTimeoutMs: number;
  /** SSE keep-alive after this much upstream silence. Default 15 s (CloudFront's read timeout is 30 s). */
  readonly keepAliveMs: number;
  /** Streams end cleanly after this long. Default 14 min 30 s (API Gateway's cap is 15 min). */
  readonly maxStreamMs: number;
}

export const DEFAULT_PROXY_LIMITS: ProxyLimits = {
  maxBodyBytes: 4 * 1024 * 1024,
  headersTimeoutMs: 55_000,
  keepAliveMs: 15_000,
  maxStreamMs: 14.5 * 60_000,
};

export interface McpProxyDeps {
  readonly routes: RouteTable;
  readonly verify: AccessTokenVerifier;
  readonly grantAlive: GrantChecks;
  readonly upstreamTokens: UpstreamTokens;
  /** The HTTP client for a route's upstream (SSRF-guarded unless the route opted out). */
  readonly upstreamFor: (route: Route) => UpstreamClient;
  readonly sealer: Sealer;
  /** Signs the connect links of its connect-required answers. */
  readonly links: ConnectLinks;
  readonly limits?: Partial<ProxyLimits>;
  readonly now?: () => number;
}

/** What the proxy seals into the `Mcp-Session-Id` it gives the client (2025-era sessions). */
interface SessionState {
  /** The upstream's own session id. */
  readonly s: string;
  /** The client declared URL-mode elicitation at initialize (2025-11-25). */
  readonly e?: boolean;
}

const METHODS = 'POST, GET, DELETE, OPTIONS';

/**
 * The route's MCP endpoint (`from` + `routes[].path`): authenticates the caller with the gateway's
 * own token (offline), swaps it for the person's upstream token for this route, forwards the
 * request under the header rules, and streams the answer back as it arrives (DESIGN "The MCP proxy").
 */
export function createMcpProxy(deps: McpProxyDeps): (request: Request) => Promise<Response> {
  const limits: ProxyLimits = { ...DEFAULT_PROXY_LIMITS, ...deps.limits };

  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    if (url.pathname !== route.mcpPath) throw new HttpError('not_found');
    if (request.method === 'OPTIONS') return preflight();
    if (!['POST', 'GET', 'DELETE'].includes(request.method)) {
      throw new HttpError('method_not_allowed', { headers: { allow: METHODS } });
    }

    const auth = await authenticate(deps.verify, request, route);
    if (!auth.ok) return auth.response;
    const { claims } = auth;
    if (!(await deps.grantAlive(route.origin, claims))) return challenge(route, 'grant_revoked');
    const bound = { route: route.origin, user: claims.sub };
    const now = deps.now ?? Date.now;

    let body: Uint8Array | undefined;
    let message: ClientMessage | undefined;
    if (request.method === 'POST') {
      body = await readLimited(request, limits.maxBodyBytes);
      if (!body) return jsonRpcRefusal('request_too_large', null, { maxBytes: limits.maxBodyBytes });
      const parsed = parseClientMessage(body);
      if (!parsed.ok) return parsed.response;
      message = parsed.message;
      const mismatch = checkMethodHeaders(request.headers, message);
      if (mismatch) return mismatch;
      const stripped = withoutGatewayRetryState(body, message, deps.sealer, bound, now());
      if (!stripped) return jsonRpcRefusal('request_state_invalid', message.id);
      body = stripped;
    }

    let session: SessionState | undefined;
    const sealedSession = request.headers.get('mcp-session-id');
    if (sealedSession !== null) {
      session = deps.sealer.open<SessionState>('session', bound, sealedSession);
      // Another person's or route's session id, or a forged one: an unknown session (spec: 404).
      if (!session || typeof session.s !== 'string') {
        return jsonRpcRefusal('session_unknown', message?.id ?? null);
      }
    }

    const context: ConnectContext = {
      route,
      claims,
      message,
      session,
      request,
      sealer: deps.sealer,
      links: deps.links,
    };
    const telemetry = telemetryOf(request);
    let token = await deps.upstreamTokens.get(route.origin, claims.sub, { telemetry });
    if (!token.ok) {
      if (token.code === 'upstream_unavailable') return unavailable(message);
      return connectRequired(context, undefined, now());
    }

    const headers = upstreamRequestHeaders(request.headers);
    if (session) headers['mcp-session-id'] = session.s;
    const target = new URL(route.config.to);
    const client = deps.upstreamFor(route);
    const send = async (accessToken: string) => {
      const sentAt = performance.now();
      const result = await client.send({
        url: target,
        method: request.method,
        headers: { ...headers, authorization: `Bearer ${accessToken}` },
        ...(body ? { body } : {}),
        headersTimeoutMs: limits.headersTimeoutMs,
        signal: request.signal,
      });
      const latency = performance.now() - sentAt;
      if (result.ok) telemetry.upstreamResponded(result.status, latency);
      else telemetry.upstreamFailed(result.code, latency);
      return result;
    };

    let answer = await send(token.accessToken);
    if (answer.ok && answer.status === 401) {
      // One refresh and one retry; the upstream's own challenge never reaches the client.
      answer.body.resume();
      token = await deps.upstreamTokens.get(route.origin, claims.sub, {
        rejected: token.accessToken,
        telemetry,
      });
      if (!token.ok) {
        if (token.code === 'upstream_unavailable') return unavailable(message);
        return connectRequired(context, undefined, now());
      }
      answer = await send(token.accessToken);
      if (answer.ok && answer.status === 401) {
        answer.body.resume();
        deps.upstreamTokens.forget(route.origin, claims.sub);
        return jsonRpcRefusal('upstream_unauthorized', message?.id ?? null);
      }
    }
    if (answer.ok && answer.status === 403) {
      const challenge = bearerChallengeParams(String(answer.headers['www-authenticate'] ?? ''));
      if (challenge?.error === 'insufficient_scope') {
        answer.body.resume();
        // Reconnect asking for the union of what the route asks and what the upstream needs now.
        const needed = (challenge.scope ?? '')
          .split(' ')
          .filter((s) => /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/.test(s));
        return connectRequired(context, 'insufficient_scope', now(), needed.slice(0, 20));
      }
    }
    const response = respond(
      answer,
      message,
      bound,
      session,
      deps.sealer,
      limits,
      isInitialize(message),
      () => deps.grantAlive(route.origin, claims),
    );
    if (answer.ok && answer.status < 500) telemetry.relayingUpstream();
    return response;
  };
}

function isInitialize(message: ClientMessage | undefined): boolean {
  return message?.method === 'initialize';
}

function preflight(): Response {
  return new Response(null, {
    status: 204,
    headers: {
      ...MCP_CORS,
      'access-control-allow-methods': METHODS,
      'access-control-allow-headers':
        'authorization, content-type, accept, mcp-protocol-version, mcp-session-id, last-event-id, mcp-method, mcp-name, mcp-param-*, traceparent',
      'access-control-max-age': '600',
    },
  });
}

function unavailable(message: ClientMessage | undefined): Response {
  return jsonRpcRefusal('refresh_unavailable', message?.id ?? null);
}

function respond(
  answer: UpstreamResult,
  message: ClientMessage | undefined,
  bound: { route: string; user: string },
  session: SessionState | undefined,
  sealer: Sealer,
  limits: ProxyLimits,
  initialize: boolean,
  alive: () => Promise<boolean>,
): Response {
  const id = message?.id ?? null;
  if (!answer.ok) return jsonRpcRefusal(answer.code, id);
  if (answer.status >= 500) {
    answer.body.resume();
    return jsonRpcRefusal('upstream_error', id, { status: answer.status });
  }
  const headers: Record<string, string> = {
    ...clientResponseHeaders(answer.headers),
    ...MCP_CORS,
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
  };
  const upstreamSession = answer.headers['mcp-session-id'];
  if (typeof upstreamSession === 'string' && upstreamSession.length > 0 && upstreamSession.length <= 1024) {
    const elicitation = initialize ? declaresUrlElicitation(message) : (session?.e ?? false);
    headers['mcp-session-id'] = sealer.seal('session', bound, {
      s: upstreamSession,
      ...(elicitation ? { e: true } : {}),
    });
  }
  const type = String(answer.headers['content-type'] ?? '');
  const sse = /^text\/event-stream/i.test(type);
  // Per-person answers to requests with credentials: never stored by a shared cache, whatever the
  // upstream says.
  headers['cache-control'] = sse ? 'no-store, no-transform' : 'no-store';
  const empty = answer.status === 202 || answer.status === 204 || answer.status === 304;
  if (empty) answer.body.resume();
  return new Response(
    empty
      ? null
      : proxyBody(answer.body, {
          keepAliveMs: limits.keepAliveMs,
          maxDurationMs: limits.maxStreamMs,
          sse,
          alive,
        }),
    {
      status: answer.status,
      headers,
    },
  );
}

/** 2025-11-25: `capabilities.elicitation.url` in the client's initialize request. */
function declaresUrlElicitation(message: ClientMessage | undefined): boolean {
  const capabilities = message?.params?.capabilities as { elicitation?: { url?: unknown } } | undefined;
  return typeof capabilities?.elicitation?.url === 'object' && capabilities.elicitation.url !== null;
}

export type { AccessTokenClaims };
