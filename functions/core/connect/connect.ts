import * as oauth from 'oauth4webapi';
import { type ClientChoiceCode, chooseClient } from '../oauth/client-choice.ts';
import { classifyOAuthFailure, knownOAuthError, oauthErrorCode } from '../oauth/failure.ts';
import { fail, type OutboundFetch, type Result } from '../oauth/types.ts';
import { type DiscoveryCode, discoverUpstream } from '../oauth/upstream-discovery.ts';
import { withoutIdToken } from '../oauth/without-id-token.ts';
import type { Route } from '../routes.ts';
import type { DiscoveryCache } from '../store/discovery-cache.ts';
import type { RegistrationStore } from '../store/registrations.ts';
import type { StateRefusal, StateResume, StateStore } from '../store/state.ts';
import { type ClientSecretResolver, resolveClientAuth } from '../vault/client-auth.ts';
import type { Vault } from '../vault/vault.ts';

/** The part of the vault the connect flow writes with. */
export type VaultWriter = Pick<Vault, 'put'>;

/** Why a connect did not start or finish: each a code of the refusal catalogue (functions/core/refusals.ts). */
export type ConnectCode =
  | DiscoveryCode
  | ClientChoiceCode
  | StateRefusal
  | 'authorization_issuer_mismatch'
  | 'authorization_denied'
  | 'authorization_response_invalid'
  | 'token_exchange_failed'
  | 'upstream_token_type_unsupported';

/** A refused connect: its code, a message for logs, and a detail people may see (an RFC error code). */
type ConnectResult<T> = Result<T, ConnectCode> & { readonly detail?: string };

export interface ConnectDeps {
  readonly states: StateStore;
  readonly vault: VaultWriter;
  readonly registrations: RegistrationStore;
  readonly discoveryCache: DiscoveryCache;
  /** The outbound fetch for a route: SSRF-guarded unless the route opted into private networks. */
  readonly fetchFor: (route: Route) => OutboundFetch;
  readonly secrets: ClientSecretResolver;
  readonly now?: () => number;
  /**
   * The time all of a connect's outbound calls (discovery, registration) may take together, so a
   * slow upstream gets a clear page before the function times out. Default 18 s (the function has 25).
   */
  readonly connectBudgetMs?: number;
}

/** A fetch whose every call shares one deadline (each call also keeps its own 10 s cap). */
function withDeadline(fetch: OutboundFetch, signal: AbortSignal): OutboundFetch {
  return (url, init = {}) =>
    fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, signal]) : signal });
}

function insecure(route: Route): boolean {
  return route.config.allowInsecureUpstream === true;
}

async function discover(deps: ConnectDeps, route: Route, fetch: OutboundFetch) {
  const cached = await deps.discoveryCache.get(route.origin, route.config.to);
  if (cached) return { ok: true as const, ...cached };
  const found = await discoverUpstream(route.config.to, {
    fetch,
    allowInsecure: insecure(route),
    authorizationServer: route.config.upstream?.authorizationServer,
  });
  if (found.ok) {
    const { ok: _ok, ...value } = found;
    await deps.discoveryCache.put(route.origin, route.config.to, value);
  }
  return found;
}

/**
 * Starts connecting a signed-in person's route to the upstream: discovery, client choice, a
 * single-use state record bound to browser and user, then the authorization URL with PKCE S256,
 * RFC 8707 `resource`, the scopes and the route's callback.
 */
export async function startConnect(
  deps: ConnectDeps,
  input: {
    route: Route;
    userId: string;
    binding: string;
    returnTo: string;
    resume?: StateResume;
    /** Scopes an upstream asked for (`403 insufficient_scope`), added to the usual ones. */
    extraScopes?: readonly string[];
  },
): Promise<ConnectResult<{ location: string; issuer: string }>> {
  const { route } = input;
  const fetch = withDeadline(deps.fetchFor(route), AbortSignal.timeout(deps.connectBudgetMs ?? 18_000));
  const upstream = await discover(deps, route, fetch);
  if (!upstream.ok) return fail(upstream.code, upstream.message);
  const as = upstream.as;
  if (!as.authorization_endpoint || !as.token_endpoint) {
    return fail(
      'authorization_server_invalid',
      `${as.issuer} does not publish authorization and token endpoints.`,
    );
  }
  const client = await chooseClient({
    route,
    as,
    registrations: deps.registrations,
    fetch,
    allowInsecure: insecure(route),
  });
  if (!client.ok) return client;

  const scopes = [
    ...new Set([...(route.config.upstream?.scopes ?? upstream.scopes), ...(input.extraScopes ?? [])]),
  ];
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const { state } = await deps.states.createState({
    route: route.origin,
    userId: input.userId,
    binding: input.binding,
    codeVerifier,
    issuer: as.issuer,
    authorizationEndpoint: as.authorization_endpoint,
    tokenEndpoint: as.token_endpoint,
    revocationEndpoint: as.revocation_endpoint,
    redirectUri: route.callbackUrl,
    resource: upstream.resource,
    clientId: client.clientId,
    clientAuth: client.clientAuth,
    scopes,
    returnTo: input.returnTo,
    resume: input.resume ?? { kind: 'connect' },
    ...(insecure(route) ? { allowInsecureRequests: true } : {}),
    ...(as.authorization_response_iss_parameter_supported === true ? { issParameterSupported: true } : {}),
  });

  const url = new URL(as.authorization_endpoint);
  for (const [key, value] of Object.entries(route.config.upstream?.authorizationParams ?? {})) {
    url.searchParams.set(key, value);
  }
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('client_id', client.clientId);
  url.searchParams.set('redirect_uri', route.callbackUrl);
  url.searchParams.set('state', state);
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('resource', upstream.resource);
  if (scopes.length > 0) url.searchParams.set('scope', scopes.join(' '));
  return { ok: true, location: url.href, issuer: as.issuer };
}

/**
 * The OAuth callback: the state is consumed by one conditional delete that also requires the same
 * browser, user and route and an unexpired record; RFC 9207 `iss` is checked; the code is
 * redeemed with the PKCE verifier, redirect URI and resource; the tokens go to the vault.
 */
export async function finishConnect(
  deps: ConnectDeps,
  input: { route: Route; userId: string; binding: string; callbackUrl: URL },
): Promise<ConnectResult<{ returnTo: string; resume: StateResume; issuer: string }>> {
  const { route, callbackUrl } = input;
  const consumed = await deps.states.consumeState(callbackUrl.searchParams.get('state'), {
    route: route.origin,
    userId: input.userId,
    binding: input.binding,
    now: deps.now?.(),
  });
  if (!consumed.ok) return fail(consumed.code, 'the state was refused');
  const record = consumed.record;

  // The metadata validated when the flow started, from the record: the callback trusts nothing
  // fresh from the network to decide where the code goes or whether `iss` is required.
  const as: oauth.AuthorizationServer = {
    issuer: record.issuer,
    authorization_endpoint: record.authorizationEndpoint,
    token_endpoint: record.tokenEndpoint,
    revocation_endpoint: record.revocationEndpoint,
    authorization_response_iss_parameter_supported: record.issParameterSupported === true,
  };
  const client: oauth.Client = { client_id: record.clientId };
  const http = {
    [oauth.customFetch]: deps.fetchFor(route) as never,
    [oauth.allowInsecureRequests]: record.allowInsecureRequests === true,
  };

  // RFC 9207 §2.4, checked here rather than told apart in oauth4webapi's error (whose `code` is the
  // same for every invalid response): a present `iss` must be the issuer asked, and an issuer that
  // advertises the parameter must send it.
  const iss = callbackUrl.searchParams.getAll('iss');
  if (
    iss.length > 1 ||
    (iss.length === 1 ? iss[0] !== as.issuer : as.authorization_response_iss_parameter_supported)
  ) {
    return fail('authorization_issuer_mismatch', 'the iss parameter is missing or names another issuer');
  }
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, callbackUrl, oauth.skipStateCheck);
  } catch (error) {
    const failure = classifyOAuthFailure(error);
    if (failure.kind === 'authorization_error') {
      return {
        ...fail('authorization_denied', 'the upstream authorization server answered an error'),
        detail: knownOAuthError(failure.error || 'access_denied'),
      };
    }
    return fail('authorization_response_invalid', `the answer failed validation (${failure.kind})`);
  }

  if (!params.get('code')) return fail('authorization_response_invalid', 'the answer carries no code');

  let tokens: oauth.TokenEndpointResponse;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      await resolveClientAuth(deps.secrets, { ...record, route: route.origin }),
      params,
      record.redirectUri,
      record.codeVerifier,
      { ...http, additionalParameters: { resource: record.resource } },
    );
    tokens = await oauth.processAuthorizationCodeResponse(as, client, await withoutIdToken(response), {
      requireIdToken: false,
    });
  } catch (error) {
    const failure = classifyOAuthFailure(error);
    const refused = oauthErrorCode(failure);
    // A dynamically registered client the server has since forgotten (an error body, or a 401
    // challenge naming it): drop our copy so the next connect registers again instead of failing forever.
    if (refused === 'invalid_client' || refused === 'unauthorized_client') {
      await deps.registrations.forget(route.origin, record.issuer, record.clientId);
    }
    return {
      ...fail('token_exchange_failed', `the token request failed (${failure.kind})`),
      ...(refused ? { detail: knownOAuthError(refused) } : {}),
    };
  }
  if (tokens.token_type.toLowerCase() !== 'bearer') {
    return fail('upstream_token_type_unsupported', 'the upstream issued a non-Bearer token');
  }
  const now = deps.now?.() ?? Date.now();
  await deps.vault.put(
    { route: route.origin, user: input.userId },
    {
      issuer: record.issuer,
      tokenEndpoint: record.tokenEndpoint,
      revocationEndpoint: record.revocationEndpoint,
      clientId: record.clientId,
      clientAuth: record.clientAuth,
      resource: record.resource,
      ...(record.allowInsecureRequests ? { allowInsecureRequests: true } : {}),
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      idToken: tokens.id_token,
      expiresAt: typeof tokens.expires_in === 'number' ? now + tokens.expires_in * 1000 : undefined,
      scope: tokens.scope ?? (record.scopes.length ? record.scopes.join(' ') : undefined),
      tokenType: 'Bearer',
    },
  );
  return { ok: true, returnTo: record.returnTo, resume: record.resume, issuer: record.issuer };
}
