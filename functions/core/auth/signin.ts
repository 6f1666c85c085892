import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { sha256Base64url } from '../crypto/hash.ts';
import { classifyOAuthFailure } from '../oauth/failure.ts';
import { fail, type OutboundFetch, type Result } from '../oauth/types.ts';
import type { Route } from '../routes.ts';
import type { SessionStore } from '../store/sessions.ts';
import { createSignInTransactions } from './sign-in-transaction.ts';

/**
 * The gateway's id for a person: the identity provider's `sub`, qualified by a fixed-length tag of
 * the issuer, so two providers that reuse a subject (after an operator switches providers) never
 * share sessions, state records or vault items. The tag is base64url, so the id splits unambiguously.
 */
export function userIdFor(issuer: string, sub: string): string {
  return `${sha256Base64url(issuer).slice(0, 16)}:${sub}`;
}

/** Where each route receives the identity provider's answer. */
export const LOGIN_CALLBACK_PATH = '/.pomerium/login/callback';

/**
 * Where the identity provider sends the browser back after signing it out (RP-initiated logout's
 * `post_logout_redirect_uri`, Cognito's `logout_uri`): the sign-out page, whose GET changes nothing.
 */
export const LOGOUT_PATH = '/.pomerium/logout';

/**
 * How far the identity provider's clock may be behind ours when a fresh login is checked: the ID
 * token's `auth_time` must not be earlier than the sign-in's start minus this.
 */
const AUTH_TIME_TOLERANCE_SECONDS = 30;

/** The identity provider people sign in with (Cognito in AWS by default, or any OIDC issuer). */
export interface IdentityProviderSettings {
  readonly issuer: string;
  readonly clientId: string;
  /** Resolved secret for confidential clients; absent → public client with PKCE only. */
  readonly clientSecret?: string;
  readonly scopes?: readonly string[];
  /** Plain-http issuer allowed (local development only). */
  readonly allowInsecure?: boolean;
  /**
   * Cognito's hosted-UI sign-out endpoint (`https://{domain}/logout`), for a user pool the stack
   * created: Cognito's discovery document names no `end_session_endpoint`, and its `/logout` takes
   * `client_id` and `logout_uri` (one of the app client's registered sign-out URLs).
   */
  readonly cognitoLogoutEndpoint?: string;
}

export type SignInCode =
  | 'idp_unavailable'
  | 'login_state_invalid'
  | 'login_other_browser'
  | 'login_expired'
  | 'login_denied'
  | 'login_response_invalid'
  | 'id_token_invalid'
  | 'login_not_fresh'
  | 'return_to_too_long';

export interface SignIn {
  /**
   * Starts a sign-in: the identity provider URL to send the browser to, and the sealed sign-in
   * transaction for the browser to keep in a cookie (nothing is stored). `freshLogin` (after a
   * sign-out in this browser) asks the provider for its login form (`prompt=login`, `max_age=0`),
   * and the callback then requires an `auth_time` from after the start.
   */
  start(
    route: Route,
    returnTo: string,
    binding: string,
    options?: { readonly freshLogin?: boolean },
  ): Promise<Result<{ location: string; transaction: string }, SignInCode>>;
  /**
   * Finishes a sign-in at the login callback with the transaction cookie's value; on success a new
   * session exists. Refused with `login_state_invalid` when the transaction was not presented (no
   * cookie, one that does not open, or another `state`); any other outcome used it up.
   */
  finish(
    route: Route,
    callbackUrl: URL,
    binding: string,
    transaction: string | undefined,
  ): Promise<Result<{ sessionId: string; sessionExpiresAt: number; returnTo: string }, SignInCode>>;
  /**
   * Where to send the browser to end its session at the identity provider, returning to
   * `returnUrl`: Cognito's `/logout`, or the provider's `end_session_endpoint` (OpenID Connect
   * RP-Initiated Logout 1.0); `undefined` when it has neither or cannot be reached.
   */
  logoutUrl(returnUrl: string): Promise<string | undefined>;
}

/**
 * OpenID Connect sign-in: authorization code + PKCE S256 + nonce, the code redeemed with
 * oauth4webapi (which checks the ID token's `iss`, `aud`, `exp`, `iat` and `nonce`), and the ID
 * token's signature verified against the provider's JWKS with jose.
 */
export function createSignIn(options: {
  readonly idp: IdentityProviderSettings;
  readonly sessions: SessionStore;
  /** The 256-bit key sign-in transactions are sealed with (used for nothing else). */
  readonly transactionKey: Uint8Array;
  readonly fetch: OutboundFetch;
  readonly now?: () => number;
}): SignIn {
  const { idp, sessions } = options;
  const now = options.now ?? Date.now;
  const transactions = createSignInTransactions(options.transactionKey, { now });
  const client: oauth.Client = { client_id: idp.clientId };
  const clientAuth = idp.clientSecret ? oauth.ClientSecretBasic(idp.clientSecret) : oauth.None();
  const http = {
    [oauth.customFetch]: options.fetch as never,
    [oauth.allowInsecureRequests]: idp.allowInsecure === true,
  };
  let metadata: Promise<{ as: oauth.AuthorizationServer; jwks: jose.JWTVerifyGetKey }> | undefined;

  async function provider() {
    metadata ??= (async () => {
      const issuer = new URL(idp.issuer);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, http));
      if (!as.jwks_uri || !as.authorization_endpoint || !as.token_endpoint)
        throw new Error('incomplete metadata');
      const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri), {
        [jose.customFetch]: options.fetch as never,
      });
      return { as, jwks };
    })();
    try {
      return await metadata;
    } catch (error) {
      metadata = undefined;
      throw error;
    }
  }

  return {
    async start(route, returnTo, binding, startOptions = {}) {
      let as: oauth.AuthorizationServer;
      try {
        ({ as } = await provider());
      } catch {
        return fail('idp_unavailable', 'The identity provider could not be reached.');
      }
      const freshLogin = startOptions.freshLogin === true;
      const created = transactions.create({ route: route.origin, binding }, { returnTo, freshLogin });
      if (!created) return fail('return_to_too_long', 'The return address is too long to sign in with.');
      const { transaction } = created;
      const url = new URL(as.authorization_endpoint!);
      url.searchParams.set('client_id', idp.clientId);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('redirect_uri', `${route.origin}${LOGIN_CALLBACK_PATH}`);
      url.searchParams.set('scope', (idp.scopes ?? ['openid', 'email', 'profile']).join(' '));
      url.searchParams.set('state', transaction.state);
      url.searchParams.set('nonce', transaction.nonce);
      url.searchParams.set(
        'code_challenge',
        await oauth.calculatePKCECodeChallenge(transaction.codeVerifier),
      );
      url.searchParams.set('code_challenge_method', 'S256');
      if (freshLogin) {
        // OpenID Connect Core §3.1.2.1: ask for the login form whatever session the provider keeps.
        url.searchParams.set('prompt', 'login');
        url.searchParams.set('max_age', '0');
      }
      return { ok: true, location: url.href, transaction: created.value };
    },

    async finish(route, callbackUrl, binding, value) {
      const opened = transactions.open({ route: route.origin, binding }, value);
      if (!opened.ok) {
        if (opened.code === 'expired') return fail('login_expired', 'This sign-in took too long.');
        return fail('login_state_invalid', 'This sign-in link is not valid or was already used.');
      }
      const record = opened.transaction;
      // The transaction in this browser is not the one this answer is for (a forged or stale link,
      // or an older tab's sign-in that a newer one replaced).
      if (callbackUrl.searchParams.get('state') !== record.state) {
        return fail('login_state_invalid', 'This sign-in link is not valid or was already used.');
      }
      let as: oauth.AuthorizationServer;
      let jwks: jose.JWTVerifyGetKey;
      try {
        ({ as, jwks } = await provider());
      } catch {
        return fail('idp_unavailable', 'The identity provider could not be reached.');
      }
      let params: URLSearchParams;
      try {
        params = oauth.validateAuthResponse(as, client, callbackUrl, record.state);
      } catch (error) {
        if (error instanceof oauth.AuthorizationResponseError) {
          return fail('login_denied', 'The identity provider did not sign you in.');
        }
        return fail('login_response_invalid', 'The identity provider’s answer was not valid.');
      }
      let idToken: string | undefined;
      try {
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          clientAuth,
          params,
          `${route.origin}${LOGIN_CALLBACK_PATH}`,
          record.codeVerifier,
          http,
        );
        const tokens = await oauth.processAuthorizationCodeResponse(as, client, response, {
          expectedNonce: record.nonce,
          requireIdToken: true,
        });
        idToken = tokens.id_token;
      } catch (error) {
        // An OAuth error answer (a forged or reused code) is the caller's doing; a claim check that
        // fails is the ID token's; anything else (network, 5xx, 429) is the provider being unavailable.
        const failure = classifyOAuthFailure(error);
        if (failure.kind === 'error_response' && failure.status < 500) {
          return fail('login_response_invalid', 'The identity provider did not accept this sign-in.');
        }
        const status = 'status' in failure ? failure.status : undefined;
        if (
          failure.kind === 'invalid_response' &&
          !(status !== undefined && (status >= 500 || status === 429))
        ) {
          return fail('id_token_invalid', 'The identity provider’s ID token did not pass the checks.');
        }
        return fail('idp_unavailable', 'The sign-in could not be completed with the identity provider.');
      }
      let claims: jose.JWTPayload;
      try {
        ({ payload: claims } = await jose.jwtVerify(idToken!, jwks, {
          issuer: as.issuer,
          audience: idp.clientId,
          currentDate: new Date(now()),
        }));
      } catch {
        return fail('id_token_invalid', 'The identity provider’s ID token could not be verified.');
      }
      if (typeof claims.sub !== 'string' || !claims.sub) {
        return fail('id_token_invalid', 'The ID token has no subject.');
      }
      // After a sign-out in this browser the provider must really have asked for credentials: a
      // provider that ignores `prompt=login` and `max_age=0` would otherwise sign the next person
      // in silently as the previous one.
      if (
        record.freshLogin &&
        !(
          typeof claims.auth_time === 'number' &&
          claims.auth_time >= record.startedAt / 1000 - AUTH_TIME_TOLERANCE_SECONDS
        )
      ) {
        return fail(
          'login_not_fresh',
          'The identity provider signed you in without asking for your credentials.',
        );
      }
      // After "sign out everywhere" (any route, any browser), the provider must have asked for
      // credentials since: otherwise its session from before would sign the next person in on a
      // route whose browser never saw the sign-out.
      const userId = userIdFor(as.issuer, claims.sub);
      const signedOutAt = await sessions.signedOutEverywhereAt(userId);
      if (
        signedOutAt !== undefined &&
        // auth_time has whole seconds: the second of the sign-out counts as after it.
        !(typeof claims.auth_time === 'number' && claims.auth_time >= Math.floor(signedOutAt / 1000))
      ) {
        return fail(
          'login_not_fresh',
          'The identity provider signed you in without asking for your credentials.',
        );
      }
      const session = await sessions.createSession({
        userId,
        issuer: as.issuer,
        email: typeof claims.email === 'string' ? claims.email : undefined,
        name: typeof claims.name === 'string' ? claims.name : undefined,
      });
      return {
        ok: true,
        sessionId: session.id,
        sessionExpiresAt: session.expiresAt,
        returnTo: record.returnTo,
      };
    },

    async logoutUrl(returnUrl) {
      if (idp.cognitoLogoutEndpoint) {
        const url = new URL(idp.cognitoLogoutEndpoint);
        url.searchParams.set('client_id', idp.clientId);
        url.searchParams.set('logout_uri', returnUrl);
        return url.href;
      }
      let as: oauth.AuthorizationServer;
      try {
        ({ as } = await provider());
      } catch {
        return undefined;
      }
      if (!as.end_session_endpoint) return undefined;
      let url: URL;
      try {
        url = new URL(as.end_session_endpoint);
      } catch {
        return undefined;
      }
      if (url.protocol !== 'https:' && !(idp.allowInsecure && url.protocol === 'http:')) return undefined;
      // RP-Initiated Logout 1.0 §2: without an ID token to hint with (sessions keep none), client_id
      // names the client whose registered post_logout_redirect_uri this is. No state: the page we
      // come back to changes nothing and trusts nothing from the query.
      url.searchParams.set('client_id', idp.clientId);
      url.searchParams.set('post_logout_redirect_uri', returnUrl);
      return url.href;
    },
  };
}
