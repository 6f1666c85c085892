import { createHash } from 'node:crypto';
import type { OAuthRefusalCode, RefusalCode } from '../refusals.ts';
import type { Route } from '../routes.ts';
import { type ClientResolver, type McpClient, matchRedirectUri } from './clients.ts';

import { GATEWAY_SCOPE } from './scopes.ts';

/** A validated authorization request (RFC 6749 §4.1.1 with PKCE and RFC 8707 `resource`). */
export interface AuthorizationRequest {
  readonly client: McpClient;
  readonly redirectUri: string;
  /** The request named `redirect_uri` (then the token request must repeat it, RFC 6749 §4.1.3). */
  readonly redirectUriSent: boolean;
  readonly state?: string;
  readonly codeChallenge: string;
  readonly scope: string;
  readonly resource: string;
}

/** What the request carried, for re-rendering it as hidden form fields. */
export const REQUEST_PARAMETERS = [
  'response_type',
  'client_id',
  'redirect_uri',
  'state',
  'code_challenge',
  'code_challenge_method',
  'scope',
  'resource',
] as const;

export type AuthorizeOutcome =
  | { readonly ok: true; readonly request: AuthorizationRequest }
  /**
   * Shown to the person as a page: the client or its redirect URI cannot be trusted with a
   * redirect. `detail` is a rule or parameter name (never the request's text).
   */
  | { readonly ok: false; readonly page: true; readonly code: RefusalCode; readonly detail?: string }
  /** Sent back to the client's redirect URI (RFC 6749 §4.1.2.1) as the refusal's OAuth error. */
  | {
      readonly ok: false;
      readonly page: false;
      readonly redirectUri: string;
      readonly state?: string;
      readonly code: OAuthRefusalCode;
    };

const MAX_PARAMETER = 2048;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/**
 * Validates an authorization request. The client and its redirect URI come first: until both are
 * known good every refusal is a page (never a redirect to an unchecked URI); after that, errors go
 * back to the client with `state` and `iss`.
 */
export async function validateAuthorizationRequest(
  params: URLSearchParams,
  route: Route,
  resolveClient: ClientResolver,
): Promise<AuthorizeOutcome> {
  for (const name of REQUEST_PARAMETERS) {
    const values = params.getAll(name);
    if (values.length > 1) return { ok: false, page: true, code: 'parameter_repeated', detail: name };
    if ((values[0]?.length ?? 0) > MAX_PARAMETER) {
      return { ok: false, page: true, code: 'parameter_too_long', detail: name };
    }
  }
  const found = await resolveClient(params.get('client_id'), route.origin);
  if (!found.ok) {
    return { ok: false, page: true, code: found.code, ...(found.rule ? { detail: found.rule } : {}) };
  }
  const client = found.client;

  const asked = params.get('redirect_uri');
  let redirectUri: string | undefined;
  if (asked) redirectUri = matchRedirectUri(client, asked);
  else if (client.redirectUris.length === 1) redirectUri = client.redirectUris[0];
  if (!redirectUri) {
    return { ok: false, page: true, code: asked ? 'redirect_uri_unregistered' : 'redirect_uri_missing' };
  }

  const state = params.get('state') ?? undefined;
  const back = (code: OAuthRefusalCode): AuthorizeOutcome =>
    client.trustedRedirects
      ? { ok: false, page: false, redirectUri: redirectUri!, ...(state === undefined ? {} : { state }), code }
      : // A self-registered or unlisted client's redirect URI is the requester's own choice: an
        // error sent there unprompted would make this gateway an open redirector.
        { ok: false, page: true, code };

  if (params.get('response_type') !== 'code') return back('response_type_unsupported');
  const challenge = params.get('code_challenge');
  if (!challenge) return back('pkce_required');
  if (params.get('code_challenge_method') !== 'S256') return back('pkce_method_unsupported');
  if (!S256_CHALLENGE.test(challenge)) return back('pkce_challenge_invalid');
  const resource = params.get('resource');
  if (resource !== null && resource !== route.resource) return back('resource_invalid');
  const scope = grantedScope(params.get('scope'));
  return {
    ok: true,
    request: {
      client,
      redirectUri,
      redirectUriSent: asked !== null && asked !== '',
      ...(state === undefined ? {} : { state }),
      codeChallenge: challenge,
      scope,
      resource: route.resource,
    },
  };
}

/**
 * The scope granted for a requested one: `mcp`. Other scope values (`openid`, `offline_access`,
 * an upstream's own scopes that a client copied) are ignored, as RFC 6749 §3.3 allows; a request
 * made only of scopes the gateway never grants is still answered with `mcp`.
 */
export function grantedScope(_requested: string | null): string {
  return GATEWAY_SCOPE;
}

/** The authorization response's redirect: the client's URI with `code` or `error`, `state` and `iss`. */
export function clientRedirect(
  redirectUri: string,
  route: Route,
  params: Record<string, string | undefined>,
): string {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(key, value);
  url.searchParams.set('iss', route.issuer);
  return url.href;
}

/** A stable digest of a validated request: the consent form's CSRF token is bound to it. */
export function requestDigest(request: AuthorizationRequest): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        request.client.clientId,
        request.redirectUri,
        request.state ?? null,
        request.codeChallenge,
        request.scope,
        request.resource,
      ]),
    )
    .digest('base64url');
}
