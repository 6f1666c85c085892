import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { sha256Base64url } from '../crypto/hash.ts';
import { fail, type OutboundFetch, type Result } from '../oauth/types.ts';
import type { Route } from '../routes.ts';
import type { SessionStore } from '../store/sessions.ts';

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

/** The identity provider people sign in with (Cognito in AWS by default, or any OIDC issuer). */
export interface IdentityProviderSettings {
  readonly issuer: string;
  readonly clientId: string;
  /** Resolved secret for confidential clients; absent → public client with PKCE only. */
  readonly clientSecret?: string;
  readonly scopes?: readonly string[];
  /** Plain-http issuer allowed (local development only). */
  readonly allowInsecure?: boolean;
}

export type SignInCode =
  | 'idp_unavailable'
  | 'login_state_invalid'
  | 'login_other_browser'
  | 'login_expired'
  | 'login_denied'
  | 'login_response_invalid'
  | 'id_token_invalid';

export interface SignIn {
  /** Stores a sign-in transaction and returns the identity provider URL to send the browser to. */
  start(route: Route, returnTo: string, binding: string): Promise<Result<{ location: string }, SignInCode>>;
  /** Finishes a sign-in at the login callback; on success a new session exists. */
  finish(
    route: Route,
    callbackUrl: URL,
    binding: string,
  ): Promise<Result<{ sessionId: string; sessionExpiresAt: number; returnTo: string }, SignInCode>>;
}

/**
 * OpenID Connect sign-in: authorization code + PKCE S256 + nonce, the code redeemed with
 * oauth4webapi (which checks the ID token's `iss`, `aud`, `exp`, `iat` and `nonce`), and the ID
 * token's signature verified against the provider's JWKS with jose.
 */
export function createSignIn(options: {
  readonly idp: IdentityProviderSettings;
  readonly sessions: SessionStore;
  readonly fetch: OutboundFetch;
  readonly now?: () => number;
}): SignIn {
  const { idp, sessions } = options;
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
    async start(route, returnTo, binding) {
      let as: oauth.AuthorizationServer;
      try {
        ({ as } = await provider());
      } catch {
        return fail('idp_unavailable', 'The identity provider could not be reached.');
      }
      const codeVerifier = oauth.generateRandomCodeVerifier();
      const nonce = oauth.generateRandomNonce();
      const { state } = await sessions.createLoginTransaction({
        route: route.origin,
        binding,
        codeVerifier,
        nonce,
        returnTo,
      });
      const url = new URL(as.authorization_endpoint!);
      url.searchParams.set('client_id', idp.clientId);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('redirect_uri', `${route.origin}${LOGIN_CALLBACK_PATH}`);
      url.searchParams.set('scope', (idp.scopes ?? ['openid', 'email', 'profile']).join(' '));
      url.searchParams.set('state', state);
      url.searchParams.set('nonce', nonce);
      url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(codeVerifier));
      url.searchParams.set('code_challenge_method', 'S256');
      return { ok: true, location: url.href };
    },

    async finish(route, callbackUrl, binding) {
      const consumed = await sessions.consumeLoginTransaction(callbackUrl.searchParams.get('state'), {
        route: route.origin,
        binding,
        now: options.now?.(),
      });
      if (!consumed.ok) {
        if (consumed.code === 'state_other_browser') {
          return fail('login_other_browser', 'This sign-in was started in another browser.');
        }
        if (consumed.code === 'state_expired') return fail('login_expired', 'This sign-in took too long.');
        return fail('login_state_invalid', 'This sign-in link is not valid or was already used.');
      }
      const record = consumed.record;
      let as: oauth.AuthorizationServer;
      let jwks: jose.JWTVerifyGetKey;
      try {
        ({ as, jwks } = await provider());
      } catch {
        return fail('idp_unavailable', 'The identity provider could not be reached.');
      }
      let params: URLSearchParams;
      try {
        params = oauth.validateAuthResponse(as, client, callbackUrl, oauth.skipStateCheck);
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
        // fails is the ID token's; anything else (network, 5xx) is the provider being unavailable.
        if (error instanceof oauth.ResponseBodyError) {
          return fail('login_response_invalid', 'The identity provider did not accept this sign-in.');
        }
        if (error instanceof oauth.OperationProcessingError) {
          return fail('id_token_invalid', 'The identity provider’s ID token did not pass the checks.');
        }
        return fail('idp_unavailable', 'The sign-in could not be completed with the identity provider.');
      }
      let claims: jose.JWTPayload;
      try {
        ({ payload: claims } = await jose.jwtVerify(idToken!, jwks, {
          issuer: as.issuer,
          audience: idp.clientId,
          currentDate: options.now ? new Date(options.now()) : undefined,
        }));
      } catch {
        return fail('id_token_invalid', 'The identity provider’s ID token could not be verified.');
      }
      if (typeof claims.sub !== 'string' || !claims.sub) {
        return fail('id_token_invalid', 'The ID token has no subject.');
      }
      const session = await sessions.createSession({
        userId: userIdFor(as.issuer, claims.sub),
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
  };
}
