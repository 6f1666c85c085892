import { createHash } from 'node:crypto';
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
  /** Shown to the person as a page: the client or its redirect URI cannot be trusted with a redirect. */
  | { readonly ok: false; readonly page: true; readonly code: string; readonly message: string }
  /** Sent back to the client's redirect URI (RFC 6749 §4.1.2.1). */
  | {
      readonly ok: false;
      readonly page: false;
      readonly redirectUri: string;
      readonly state?: string;
      readonly error: string;
      readonly description: string;
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
    if (values.length > 1) {
      return {
        ok: false,
        page: true,
        code: 'invalid_request',
        message: `The parameter "${name}" appears more than once.`,
      };
    }
    if ((values[0]?.length ?? 0) > MAX_PARAMETER) {
      return {
        ok: false,
        page: true,
        code: 'invalid_request',
        message: `The parameter "${name}" is too long.`,
      };
    }
  }
  const found = await resolveClient(params.get('client_id'), route.origin);
  if (!found.ok) return { ok: false, page: true, code: found.code, message: found.message };
  const client = found.client;

  const asked = params.get('redirect_uri');
  let redirectUri: string | undefined;
  if (asked) redirectUri = matchRedirectUri(client, asked);
  else if (client.redirectUris.length === 1) redirectUri = client.redirectUris[0];
  if (!redirectUri) {
    return {
      ok: false,
      page: true,
      code: 'invalid_redirect_uri',
      message: asked
        ? 'The redirect_uri is not one the client registered.'
        : 'The request names no redirect_uri and the client has several.',
    };
  }

  const state = params.get('state') ?? undefined;
  const back = (error: string, description: string): AuthorizeOutcome =>
    client.trustedRedirects
      ? redirectError(error, description)
      : // A self-registered or unlisted client's redirect URI is the requester's own choice: an
        // error sent there unprompted would make this gateway an open redirector.
        { ok: false, page: true, code: error, message: description };
  const redirectError = (error: string, description: string): AuthorizeOutcome => ({
    ok: false,
    page: false,
    redirectUri: redirectUri!,
    ...(state === undefined ? {} : { state }),
    error,
    description,
  });

  if (params.get('response_type') !== 'code') {
    return back('unsupported_response_type', 'Only response_type=code is supported.');
  }
  const challenge = params.get('code_challenge');
  if (!challenge) return back('invalid_request', 'PKCE is required: send code_challenge with method S256.');
  if (params.get('code_challenge_method') !== 'S256') {
    return back('invalid_request', 'code_challenge_method must be S256 ("plain" is not accepted).');
  }
  if (!S256_CHALLENGE.test(challenge)) {
    return back('invalid_request', 'code_challenge is not an S256 challenge (43 base64url characters).');
  }
  const resource = params.get('resource');
  if (resource !== null && resource !== route.resource) {
    return back('invalid_target', `This authorization server issues tokens for ${route.resource} only.`);
  }
  const scope = grantedScope(params.get('scope'));
  if (!scope) return back('invalid_scope', `This gateway grants the scope "${GATEWAY_SCOPE}" only.`);
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
export function grantedScope(_requested: string | null): string | undefined {
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
