import { rootCertificates } from 'node:tls';
import type * as jose from 'jose';
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import { Agent, fetch as undiciFetch } from 'undici';
import type { RequestHandler } from './https-listener.ts';
import {
  createProvider,
  demoCookies,
  demoProviderHelpers,
  generateSigningKeys,
  loadOidcProvider,
  providerHandler,
} from './oidc.ts';

/** The scope the demo MCP server asks for (RFC 6750 challenge, RFC 9728 `scopes_supported`). */
export const DEMO_MCP_SCOPE = 'mcp:tools';

const NAME = 'Demo upstream authorization server';

export interface DemoAuthorizationServerOptions {
  /** `https://localhost:PORT` */
  readonly issuer: string;
  /** The one protected resource (RFC 8707 indicator) it issues tokens for: the MCP URL. */
  readonly resource: string;
  /** PEM CA trusted (besides the public roots) when fetching Client ID Metadata Documents; may be empty. */
  readonly ca: string;
  /** Access-token lifetime in seconds. */
  readonly accessTokenTtl: number;
}

export interface DemoAuthorizationServer {
  readonly provider: Provider;
  readonly handler: RequestHandler;
  /** The public JWKS access tokens are signed with. */
  readonly jwks: jose.JSONWebKeySet;
  /** Every Client ID Metadata Document URL it fetched, in order. */
  readonly fetchedCimds: string[];
  tokenRequests(): number;
  close(): Promise<void>;
}

/**
 * The demo upstream's authorization server (oidc-provider): clients identify themselves with a
 * Client ID Metadata Document URL (draft-ietf-oauth-client-id-metadata-document-02), and it
 * issues JWT access tokens (RFC 9068, ES256) for the MCP URL only (RFC 8707), always a rotating
 * refresh token to clients allowed the `refresh_token` grant, and revokes on request (RFC 7009).
 * PKCE S256 is required; the `iss` authorization response parameter (RFC 9207) is on.
 *
 * Its own SSRF guard would refuse the gateway on loopback, so its fetch uses an agent that trusts
 * the development CA and may reach any address: this server exists only on the developer's
 * machine.
 */
export async function createDemoAuthorizationServer(
  options: DemoAuthorizationServerOptions,
): Promise<DemoAuthorizationServer> {
  const { errors } = await loadOidcProvider();
  const { privateJwks, publicJwks } = await generateSigningKeys(['ES256', 'RS256']);
  const agent = new Agent({ connect: { ca: [...rootCertificates, ...(options.ca ? [options.ca] : [])] } });
  const fetchedCimds: string[] = [];
  let tokenRequests = 0;

  const helpers = demoProviderHelpers(NAME);
  const configuration: Configuration = {
    ...helpers,
    jwks: privateJwks,
    cookies: demoCookies('demo_as'),
    scopes: ['openid', 'offline_access', DEMO_MCP_SCOPE],
    pkce: { required: () => true },
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    // Tokens outlive the person's browser session here (the library ties them to it unless
    // `offline_access` was asked for, which MCP clients do not): the gateway refreshes long after.
    expiresWithSession: () => false,
    rotateRefreshToken: true,
    ttl: { ...helpers.ttl, AccessToken: options.accessTokenTtl },
    features: {
      devInteractions: { enabled: true },
      clientIdMetadataDocument: { enabled: true, ack: 'draft-02' },
      revocation: {
        enabled: true,
        // Public clients may revoke only their own tokens (the library's default, without its notice).
        allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => options.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== options.resource) {
            throw new errors.InvalidTarget(`this server issues tokens for ${options.resource} only`);
          }
          return {
            scope: DEMO_MCP_SCOPE,
            audience: options.resource,
            accessTokenTTL: options.accessTokenTtl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    fetch: (async (url: string | URL | Request, init?: RequestInit) => {
      fetchedCimds.push(String(url));
      const { dispatcher: _libraryLoopbackGuard, ...rest } = (init ?? {}) as RequestInit & {
        dispatcher?: unknown;
      };
      return undiciFetch(url as string, { ...(rest as object), dispatcher: agent });
    }) as unknown as Configuration['fetch'],
  };

  const provider = await createProvider(options.issuer, configuration);
  const handler = providerHandler(provider, (req, pathname) => {
    if (req.method === 'POST' && pathname === '/token') tokenRequests++;
  });
  return {
    provider,
    handler,
    jwks: publicJwks,
    fetchedCimds,
    tokenRequests: () => tokenRequests,
    close: () => agent.close(),
  };
}
