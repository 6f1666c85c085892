import type Provider from 'oidc-provider';
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import { LOGOUT_PATH } from '../../core/auth/signin.ts';
import { type DemoTls, listenHttps } from './https-listener.ts';
import {
  createProvider,
  demoCookies,
  demoLogoutPages,
  demoProviderHelpers,
  generateSigningKeys,
  providerHandler,
} from './oidc.ts';

/** The client ID the local gateway signs people in with. */
export const DEMO_IDP_CLIENT_ID = 'mcp-edge-local';

const NAME = 'Demo identity provider';
const SCOPES = 'openid email profile';

export interface DemoIdentityProviderOptions {
  /** Port on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** The development certificate (it names localhost, so the issuer is `https://localhost:PORT`). */
  readonly tls: DemoTls;
  /**
   * Every route's login callback, `https://localhost:PORT/.pomerium/login/callback`. Each route's
   * sign-out page (`/.pomerium/logout` on the same origin) is registered as a post-logout
   * redirect URI.
   */
  readonly redirectUris: readonly string[];
  /**
   * Offer OpenID Connect RP-Initiated Logout (`end_session_endpoint`). Default true; false stands
   * for a provider without one, whose session survives the gateway's sign-out.
   */
  readonly rpInitiatedLogout?: boolean;
}

export interface DemoIdentityProvider {
  /** `https://localhost:PORT` */
  readonly issuer: string;
  readonly clientId: string;
  readonly provider: Provider;
  stop(): Promise<void>;
}

/**
 * Consent is automatic: the gateway is this provider's own first-party client, so a grant for
 * `openid email profile` is made as soon as someone has signed in (oidc-provider's documented
 * "skip consent" pattern), and the only page a person sees is the login form.
 */
async function autoConsent(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { client, session, provider, result } = ctx.oidc;
  if (!client || !session?.accountId) return undefined;
  const grantId =
    (result?.consent as { grantId?: string } | undefined)?.grantId ?? session.grantIdFor(client.clientId);
  const existing = grantId ? await provider.Grant.find(grantId) : undefined;
  if (existing) return existing;
  const grant = new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
  grant.addOIDCScope(SCOPES);
  await grant.save();
  return grant;
}

/**
 * The local demo's identity provider: an OpenID Provider (oidc-provider) over HTTPS on
 * 127.0.0.1 with one public client for the gateway's sign-in (authorization code, PKCE S256
 * required, no secret). Any login name with any password signs in; the ID token carries `sub`,
 * `email` and `name`, since the gateway reads them from the ID token rather than userinfo. The
 * gateway's sign-out ends the provider's session too (RP-Initiated Logout, back to the route's
 * sign-out page).
 */
export async function startDemoIdentityProvider(
  options: DemoIdentityProviderOptions,
): Promise<DemoIdentityProvider> {
  const listener = await listenHttps(options.port, options.tls);
  try {
    const issuer = listener.origin;
    const { privateJwks } = await generateSigningKeys(['RS256']);
    const provider = await createProvider(issuer, {
      ...demoProviderHelpers(NAME),
      clients: [
        {
          client_id: DEMO_IDP_CLIENT_ID,
          client_name: 'MCP Edge (local gateway)',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code'],
          response_types: ['code'],
          redirect_uris: [...options.redirectUris],
          post_logout_redirect_uris: [
            ...new Set(options.redirectUris.map((uri) => `${new URL(uri).origin}${LOGOUT_PATH}`)),
          ],
        },
      ],
      jwks: privateJwks,
      cookies: demoCookies('demo_idp'),
      scopes: SCOPES.split(' '),
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
      // Scope-requested claims in the ID token too (the library's default puts them in userinfo only).
      conformIdTokenClaims: false,
      pkce: { required: () => true },
      loadExistingGrant: autoConsent,
      features: {
        devInteractions: { enabled: true },
        rpInitiatedLogout: { enabled: options.rpInitiatedLogout !== false, ...demoLogoutPages(NAME) },
      },
    });
    listener.serve(providerHandler(provider));
    return { issuer, clientId: DEMO_IDP_CLIENT_ID, provider, stop: listener.stop };
  } catch (error) {
    await listener.stop();
    throw error;
  }
}
