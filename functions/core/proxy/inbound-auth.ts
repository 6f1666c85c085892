import type { AccessTokenClaims, AccessTokenVerifier } from '../authorization/access-token.ts';
import { GATEWAY_SCOPE } from '../authorization/scopes.ts';
import { jsonResponse } from '../http/errors.ts';
import { REFUSAL_HEADER, REFUSALS } from '../refusals.ts';
import type { Route } from '../routes.ts';

/** CORS for the MCP endpoint: browser clients (the Inspector) must read the challenge and session id. */
export const MCP_CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': `www-authenticate, mcp-session-id, mcp-protocol-version, ${REFUSAL_HEADER}`,
} as const;

/** The MCP endpoint's `401` refusals; all but `token_missing` are RFC 6750 `invalid_token`. */
export type ChallengeCode =
  | 'token_missing'
  | 'token_invalid'
  | 'grant_revoked'
  | 'connect_required'
  | 'upstream_scope_insufficient';

/**
 * The `401` an MCP client discovers the route's authorization server from (MCP authorization,
 * RFC 9728 §5.1): `WWW-Authenticate: Bearer resource_metadata="…"`, with `error="invalid_token"`
 * when a token was sent but refused (RFC 6750 §3.1: no error code when none was sent). The body's
 * `error` is the RFC code (the gateway's own code for a missing token, which has none), and the
 * `x-mcp-edge-refusal` header names the refusal; why a token failed verification is not told (it
 * would help a forger).
 */
export function challenge(route: Route, code: ChallengeCode): Response {
  const { oauth, message } = REFUSALS[code];
  const params = [
    ...(oauth ? [`error="${oauth}"`, `error_description="${message}"`] : []),
    `resource_metadata="${route.resourceMetadataUrl}"`,
    `scope="${GATEWAY_SCOPE}"`,
  ];
  return jsonResponse(
    401,
    { error: oauth ?? code, error_description: message },
    { ...MCP_CORS, 'www-authenticate': `Bearer ${params.join(', ')}`, [REFUSAL_HEADER]: code },
  );
}

/** The bearer token of a request (RFC 6750 §2.1), or undefined; any other scheme counts as none. */
export function bearerToken(request: Request): string | undefined {
  const header = request.headers.get('authorization');
  const match = header ? /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim()) : null;
  return match?.[1];
}

export type InboundAuth = { ok: true; claims: AccessTokenClaims } | { ok: false; response: Response };

/**
 * A verifier that verifies a given token once and keeps its claims until the token expires
 * (DESIGN "Performance contract": an ES256 verification costs about 0.15 ms). Per route, since the
 * audience differs; at most `maxEntries` tokens, the oldest out first. Only valid tokens are kept.
 */
export function cachingVerifier(
  verify: AccessTokenVerifier,
  options: { now?: () => number; maxEntries?: number } = {},
): AccessTokenVerifier {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntries ?? 10_000;
  const verified = new Map<string, AccessTokenClaims>();
  return async (token, route) => {
    const key = `${route.origin}\n${token}`;
    const hit = verified.get(key);
    if (hit) {
      if (hit.exp * 1000 > now()) return { ok: true, claims: hit };
      verified.delete(key);
    }
    const result = await verify(token, route);
    if (result.ok) {
      verified.set(key, result.claims);
      while (verified.size > maxEntries) verified.delete(verified.keys().next().value as string);
    }
    return result;
  };
}

/** Authenticates an MCP request with the gateway's own token for this route, offline. */
export async function authenticate(
  verify: AccessTokenVerifier,
  request: Request,
  route: Route,
): Promise<InboundAuth> {
  const header = request.headers.get('authorization');
  const token = bearerToken(request);
  if (!token) return { ok: false, response: challenge(route, header ? 'token_invalid' : 'token_missing') };
  const verified = await verify(token, route);
  if (!verified.ok) return { ok: false, response: challenge(route, 'token_invalid') };
  return { ok: true, claims: verified.claims };
}
