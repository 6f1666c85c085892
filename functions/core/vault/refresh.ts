import * as oauth from 'oauth4webapi';
import { withoutIdToken } from '../oauth/without-id-token.ts';
import type { VaultItem } from './item.ts';

/** The outcome of one refresh grant, as the vault acts on it. */
export type RefreshOutcome =
  | {
      readonly kind: 'tokens';
      readonly accessToken: string;
      readonly refreshToken: string;
      readonly idToken?: string;
      readonly expiresAt?: number;
      readonly scope?: string;
      readonly tokenType: string;
    }
  /** The grant is gone (RFC 6749 §5.2 `invalid_grant`): revoked, expired or already rotated. */
  | { readonly kind: 'invalid_grant' }
  /** Nothing was learnt about the grant: network error, timeout, 5xx, 429, or an unreadable answer. */
  | { readonly kind: 'unavailable' }
  /** Another refusal (`invalid_client`, `unauthorized_client`, …): retrying will not help, but the grant may be fine. */
  | { readonly kind: 'refused' };

export interface RefreshOptions {
  readonly fetch?: typeof fetch;
  /** The client's authentication, resolved beforehand (its secret may take a Secrets Manager call). */
  readonly auth: oauth.ClientAuth;
  /** Abort the request after this long; kept within the lease so a lease never ends mid-request. */
  readonly timeoutMs: number;
  readonly now: () => number;
}

/** The oauth4webapi request options for an item: fetch, timeout, resource, and the http escape hatch. */
function requestOptions(item: VaultItem, options: RefreshOptions): oauth.TokenEndpointRequestOptions {
  return {
    signal: AbortSignal.timeout(options.timeoutMs),
    ...(item.resource ? { additionalParameters: { resource: item.resource } } : {}),
    ...(options.fetch ? { [oauth.customFetch]: options.fetch } : {}),
    // Only an item stored for a route that opted in (local development) may use plain http.
    ...(item.allowInsecureRequests === true ? { [oauth.allowInsecureRequests]: true } : {}),
  };
}

/**
 * A refresh token grant (RFC 6749 §6) for an item, with its outcome classified. The request
 * and the processing are oauth4webapi's; only the classification is ours. Never throws for
 * anything the authorization server or the network does.
 */
export async function refreshGrant(
  item: VaultItem,
  refreshToken: string,
  options: RefreshOptions,
): Promise<RefreshOutcome> {
  const as: oauth.AuthorizationServer = { issuer: item.issuer, token_endpoint: item.tokenEndpoint };
  const client: oauth.Client = { client_id: item.clientId };
  let response: Response;
  try {
    response = await oauth.refreshTokenGrantRequest(
      as,
      client,
      options.auth,
      refreshToken,
      requestOptions(item, options),
    );
  } catch {
    return { kind: 'unavailable' };
  }
  try {
    const body = await oauth.processRefreshTokenResponse(as, client, await withoutIdToken(response));
    // Like connect: only Bearer tokens can be sent upstream (a DPoP or MAC token would need a key).
    if (body.token_type.toLowerCase() !== 'bearer') return { kind: 'refused' };
    const scope = body.scope ?? item.scope;
    return {
      kind: 'tokens',
      accessToken: body.access_token,
      // RFC 6749 §6: without a new refresh token, the old one stays valid.
      refreshToken: body.refresh_token ?? refreshToken,
      ...(body.id_token ? { idToken: body.id_token } : {}),
      ...(body.expires_in === undefined ? {} : { expiresAt: options.now() + body.expires_in * 1000 }),
      // RFC 6749 §5.1: scope may be omitted when it is the one granted before.
      ...(scope === undefined ? {} : { scope }),
      tokenType: body.token_type,
    };
  } catch (error) {
    if (error instanceof oauth.ResponseBodyError && error.error === 'invalid_grant')
      return { kind: 'invalid_grant' };
    if (response.status >= 500 || response.status === 429 || response.status === 200)
      return { kind: 'unavailable' };
    return { kind: 'refused' };
  }
}
