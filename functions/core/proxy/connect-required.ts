import type { AccessTokenClaims } from '../authorization/access-token.ts';
import type { ConnectLinks } from '../connect/connect-links.ts';
import { sha256Base64url } from '../crypto/hash.ts';
import { jsonResponse } from '../http/errors.ts';
import { REFUSAL_HEADER } from '../refusals.ts';
import type { Route } from '../routes.ts';
import { challenge, MCP_CORS } from './inbound-auth.ts';
import { type ClientMessage, jsonRpcError } from './jsonrpc.ts';
import type { Sealer } from './sealed-values.ts';

export interface ConnectContext {
  readonly route: Route;
  readonly claims: AccessTokenClaims;
  readonly message: ClientMessage | undefined;
  readonly session: { readonly e?: boolean } | undefined;
  readonly request: Request;
  readonly sealer: Sealer;
  /** Signs the connect link (connect-links.ts), so the connect page trusts it from any site or app. */
  readonly links: ConnectLinks;
}

/** `-32042`: the 2025-11-25 JSON-RPC error asking the client to open a URL (URL-mode elicitation). */
export const URL_ELICITATION_REQUIRED = -32042;

/**
 * The route's connect page for the token's person, signed: `for` carries a digest of the user id,
 * and the connect page refuses a signed-in person who is someone else (a link forwarded to another
 * person must not connect their account to the first person's client).
 */
export function connectUrl(
  links: ConnectLinks,
  route: Route,
  user: string,
  now: number,
  scopes?: readonly string[],
): string {
  return links.url(
    route,
    {
      return_to: '/.pomerium/connections',
      for: userDigest(user),
      ...(scopes?.length ? { scope: scopes.join(' ') } : {}),
    },
    now,
  );
}

export function userDigest(user: string): string {
  return sha256Base64url(`mcp-edge/connect-for/v1\n${user}`).slice(0, 22);
}

/** The key of the gateway's own entry in a 2026-07-28 `inputRequests` / `inputResponses`. */
export const CONNECT_INPUT_KEY = 'mcp-edge-connect';
/** How long a sealed `requestState` is honoured. */
export const REQUEST_STATE_TTL_MS = 15 * 60_000;
/** The 2026-07-28 methods that may answer `input_required`. */
const INPUT_REQUIRED_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);
const CAPABILITIES_META_KEY = 'io.modelcontextprotocol/clientCapabilities';

/** What the gateway seals into the `requestState` of its own `input_required` answer. */
export interface RequestState {
  /** The request's method and name (tool, prompt or resource): the retry must be the same call. */
  readonly m: string;
  readonly n: string | null;
  /** Expiry, epoch ms. */
  readonly x: number;
}

export function requestName(message: ClientMessage): string | null {
  const params = message.params ?? {};
  return typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : null;
}

/** 2026-07-28: the request's own `_meta` declares URL-mode elicitation. */
function declaresUrlElicitation2026(message: ClientMessage): boolean {
  const meta = message.params?._meta as Record<string, unknown> | undefined;
  const capabilities = meta?.[CAPABILITIES_META_KEY] as { elicitation?: { url?: unknown } } | undefined;
  return typeof capabilities?.elicitation?.url === 'object' && capabilities.elicitation.url !== null;
}

/**
 * The answer when the person has no usable upstream connection for the route (none yet, or the
 * upstream refused the refresh), by what the client can handle (DESIGN "Connect required"):
 * a 2026-07-28 `tools/call`, `prompts/get` or `resources/read` whose `_meta` declares URL
 * elicitation gets an `input_required` result with the connect page and a sealed `requestState`;
 * a 2025-11-25 client that declared URL elicitation gets `-32042`; any other client gets
 * `401 invalid_token`, and its re-authorization chains the connect. Each form names the refusal
 * (`connect_required`, or `upstream_scope_insufficient`) in the `x-mcp-edge-refusal` header: the
 * call was not forwarded, even when the JSON-RPC answer itself is a `200`.
 */
export function connectRequired(
  context: ConnectContext,
  reason?: 'insufficient_scope',
  now = Date.now(),
  /** With `insufficient_scope`: the scopes the upstream's challenge named, asked for on top of the usual ones. */
  scopes?: readonly string[],
): Response {
  const { route, claims, message, session } = context;
  const code = reason === 'insufficient_scope' ? 'upstream_scope_insufficient' : 'connect_required';
  const url = connectUrl(context.links, route, claims.sub, now, scopes);
  const text =
    reason === 'insufficient_scope'
      ? `The upstream needs more permissions for this. Open the link to reconnect ${route.config.name ?? route.host}.`
      : `Connect ${route.config.name ?? route.host} to your account first: open the link, then retry.`;
  if (
    message?.isRequest &&
    message.method &&
    INPUT_REQUIRED_METHODS.has(message.method) &&
    context.request.headers.get('mcp-protocol-version') === '2026-07-28' &&
    declaresUrlElicitation2026(message)
  ) {
    const state: RequestState = { m: message.method, n: requestName(message), x: now + REQUEST_STATE_TTL_MS };
    return jsonResponse(
      200,
      {
        jsonrpc: '2.0',
        id: message.id,
        result: {
          resultType: 'input_required',
          inputRequests: {
            [CONNECT_INPUT_KEY]: {
              method: 'elicitation/create',
              params: { mode: 'url', message: text, url },
            },
          },
          requestState: context.sealer.seal(
            'request-state',
            { route: route.origin, user: claims.sub },
            state,
          ),
        },
      },
      { ...MCP_CORS, [REFUSAL_HEADER]: code },
    );
  }
  if (message?.isRequest && session?.e) {
    return jsonRpcError(
      200,
      message.id,
      URL_ELICITATION_REQUIRED,
      text,
      {
        elicitations: [
          {
            mode: 'url',
            elicitationId: sha256Base64url(`${claims.jti}\n${url}`).slice(0, 22),
            url,
            message: text,
          },
        ],
      },
      { [REFUSAL_HEADER]: code },
    );
  }
  return challenge(route, code);
}
