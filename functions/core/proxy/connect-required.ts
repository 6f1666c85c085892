import type { AccessTokenClaims } from '../authorization/access-token.ts';
import { sha256Base64url } from '../crypto/hash.ts';
import { jsonResponse } from '../http/errors.ts';
import type { Route } from '../routes.ts';
import { MCP_CORS } from './inbound-auth.ts';
import { type ClientMessage, jsonRpcError } from './jsonrpc.ts';
import type { Sealer } from './sealed-values.ts';

export interface ConnectContext {
  readonly route: Route;
  readonly claims: AccessTokenClaims;
  readonly message: ClientMessage | undefined;
  readonly session: { readonly e?: boolean } | undefined;
  readonly request: Request;
  readonly sealer: Sealer;
}

/** `-32042`: the 2025-11-25 JSON-RPC error asking the client to open a URL (URL-mode elicitation). */
export const URL_ELICITATION_REQUIRED = -32042;

/**
 * The route's connect page for the token's person: `for` carries a digest of the user id, and the
 * connect page refuses a signed-in person who is someone else (a link forwarded to another person
 * must not connect their account to the first person's client).
 */
export function connectUrl(route: Route, user: string): string {
  const params = new URLSearchParams({ return_to: '/.pomerium/connections', for: userDigest(user) });
  return `${route.origin}/.pomerium/connect?${params}`;
}

export function userDigest(user: string): string {
  return sha256Base64url(`mcp-edge/connect-for/v1\n${user}`).slice(0, 22);
}

/**
 * The answer when the person has no usable upstream connection for the route (none yet, or the
 * upstream refused the refresh), by what the client can handle (DESIGN "Connect required"):
 * a 2025-11-25 client that declared URL elicitation gets `-32042` with the connect page; any other
 * client gets `401 invalid_token`, and its re-authorization chains the connect.
 */
export function connectRequired(context: ConnectContext, reason?: 'insufficient_scope'): Response {
  const { route, claims, message, session } = context;
  const url = connectUrl(route, claims.sub);
  const text =
    reason === 'insufficient_scope'
      ? `The upstream needs more permissions for this. Open the link to reconnect ${route.config.name ?? route.host}.`
      : `Connect ${route.config.name ?? route.host} to your account first: open the link, then retry.`;
  if (message?.isRequest && session?.e) {
    return jsonRpcError(200, message.id, URL_ELICITATION_REQUIRED, text, {
      elicitations: [
        {
          mode: 'url',
          elicitationId: sha256Base64url(`${claims.jti}\n${url}`).slice(0, 22),
          url,
          message: text,
        },
      ],
    });
  }
  return jsonResponse(
    401,
    { error: 'invalid_token', error_description: text },
    {
      ...MCP_CORS,
      'www-authenticate': `Bearer error="invalid_token", error_description="connect required", resource_metadata="${route.resourceMetadataUrl}"`,
    },
  );
}
