import * as oauth from 'oauth4webapi';
import { chooseClient } from '../oauth/client-choice.ts';
import { fail, type OutboundFetch, type Result } from '../oauth/types.ts';
import { discoverUpstream } from '../oauth/upstream-discovery.ts';
import { withoutIdToken } from '../oauth/without-id-token.ts';
import type { Route } from '../routes.ts';
import type { DiscoveryCache } from '../store/discovery-cache.ts';
import type { RegistrationStore } from '../store/registrations.ts';
import type { StateRefusal, StateResume, StateStore } from '../store/state.ts';
import { type ClientSecretResolver, resolveClientAuth } from '../vault/client-auth.ts';
import type { Vault } from '../vault/vault.ts';

/** The part of the vault the connect flow writes with. */
export type VaultWriter = Pick<Vault, 'put'>;

export type ConnectCode =
  | 'discovery_failed'
  | 'no_client_available'
  | 'registration_failed'
  | StateRefusal
  | 'issuer_mismatch'
  | 'authorization_denied'
  | 'authorization_response_invalid'
  | 'token_exchange_failed';

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
): Promise<Result<{ location: string; issuer: string }, ConnectCode> & { detail?: string }> {
  const { route } = input;
  const fetch = withDeadline(deps.fetchFor(route), AbortSignal.timeout(deps.connectBudgetMs ?? 18_000));
  const upstream = await discover(deps, route, fetch);
  if (!upstream.ok) return { ...fail('discovery_failed', upstream.message), detail: upstream.code };
  const as = upstream.as;
  if (!as.authorization_endpoint || !as.token_endpoint) {
    return fail('discovery_failed', `${as.issuer} does not publish authorization and token endpoints.`);
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
): Promise<Result<{ returnTo: string; resume: StateResume; issuer: string }, ConnectCode>> {
  const { route, callbackUrl } = input;
  const consumed = await deps.states.consumeState(callbackUrl.searchParams.get('state'), {
    route: route.origin,
    userId: input.userId,
    binding: input.binding,
    now: deps.now?.(),
  });
  if (!consumed.ok) return fail(consumed.code, refusalMessage(consumed.code));
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

  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, callbackUrl, oauth.skipStateCheck);
  } catch (error) {
    if (error instanceof oauth.AuthorizationResponseError) {
      const code = error.error || 'access_denied';
      return fail(
        'authorization_denied',
        `The upstream authorization server answered "${code.slice(0, 64)}".`,
      );
    }
    const code = (error as { code?: string }).code;
    if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' || /iss/.test((error as Error).message)) {
      return fail(
        'issuer_mismatch',
        'The answer came from a different authorization server than the one asked.',
      );
    }
    return fail(
      'authorization_response_invalid',
      'The upstream authorization server’s answer was not valid.',
    );
  }

  if (!params.get('code')) {
    return fail(
      'authorization_response_invalid',
      'The upstream authorization server’s answer carries no code.',
    );
  }

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
    // A dynamically registered client the server has since forgotten: drop our copy so the next
    // connect registers again instead of failing forever.
    if (
      error instanceof oauth.ResponseBodyError &&
      ['invalid_client', 'unauthorized_client'].includes(error.error)
    ) {
      await deps.registrations.forget(route.origin, record.issuer, record.clientId);
    }
    return fail(
      'token_exchange_failed',
      'The upstream authorization server did not issue tokens for this code.',
    );
  }
  if (tokens.token_type.toLowerCase() !== 'bearer') {
    return fail(
      'token_exchange_failed',
      `The upstream issued a "${tokens.token_type}" token; only Bearer is supported.`,
    );
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

function refusalMessage(code: ConnectCode): string {
  switch (code) {
    case 'state_missing':
    case 'state_malformed':
      return 'The answer from the authorization server carries no valid state.';
    case 'state_unknown':
      return 'This authorization answer is unknown or was already used.';
    case 'state_expired':
      return 'This authorization took too long; start again.';
    case 'state_other_browser':
      return 'This authorization was started in another browser.';
    case 'state_other_user':
      return 'This authorization was started by another user.';
    case 'state_other_route':
      return 'This authorization belongs to another route.';
    default:
      return 'The authorization could not be completed.';
  }
}
