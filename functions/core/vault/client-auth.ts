import * as oauth from 'oauth4webapi';

/**
 * Where a confidential client's secret lives. Only the reference is ever stored (in a state
 * record or a vault item); the secret itself is resolved when a token request is made.
 * The shape matches a route's `upstream.clientSecret` config entry.
 */
export interface ClientSecretRef {
  readonly env?: string;
  readonly secretArn?: string;
}

/**
 * How the gateway authenticates to an upstream token endpoint (RFC 6749 §2.3, RFC 7591 §2
 * `token_endpoint_auth_method`). A plain serialisable object, so it can be stored as is.
 */
export type ClientAuthDescriptor =
  | { readonly method: 'none' }
  | {
      readonly method: 'client_secret_basic' | 'client_secret_post';
      readonly secretRef?: ClientSecretRef;
    };

/** Looks a client secret up (environment, Secrets Manager, a dynamic registration record). */
export type ClientSecretResolver = (
  auth: Exclude<ClientAuthDescriptor, { method: 'none' }>,
  client: { readonly route: string; readonly issuer: string; readonly clientId: string },
) => Promise<string>;

/** The oauth4webapi client authentication for a descriptor and its resolved secret. */
export function toOAuthClientAuth(auth: ClientAuthDescriptor, secret?: string): oauth.ClientAuth {
  if (auth.method === 'none') return oauth.None();
  if (!secret) throw new TypeError(`client authentication ${auth.method} needs a client secret`);
  return auth.method === 'client_secret_basic'
    ? oauth.ClientSecretBasic(secret)
    : oauth.ClientSecretPost(secret);
}

/**
 * The oauth4webapi client authentication for a stored client: no secret lookup for public
 * clients, else the resolver's secret. Used by the code exchange, refresh and revocation alike.
 */
export async function resolveClientAuth(
  resolver: ClientSecretResolver | undefined,
  client: {
    readonly clientAuth: ClientAuthDescriptor;
    readonly route: string;
    readonly issuer: string;
    readonly clientId: string;
  },
): Promise<oauth.ClientAuth> {
  if (client.clientAuth.method === 'none') return oauth.None();
  if (!resolver) throw new TypeError(`no client secret resolver for ${client.clientAuth.method}`);
  const secret = await resolver(client.clientAuth, {
    route: client.route,
    issuer: client.issuer,
    clientId: client.clientId,
  });
  return toOAuthClientAuth(client.clientAuth, secret);
}
