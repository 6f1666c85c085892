import { sha256Base64url } from '../crypto/hash.ts';
import type { EncryptedBlob } from './cipher.ts';
import type { ClientAuthDescriptor } from './client-auth.ts';

/**
 * The vault item: non-secret metadata in clear (the connections page and token revocation need
 * it without decrypting), the tokens only inside `secrets`. Layout in docs/storage.md.
 */

/** What an upstream token response gives us, plus how to refresh and revoke it. */
export interface VaultTokens {
  readonly issuer: string;
  readonly tokenEndpoint: string;
  /** RFC 7009 revocation endpoint, when the authorization server has one. */
  readonly revocationEndpoint?: string;
  readonly clientId: string;
  readonly clientAuth: ClientAuthDescriptor;
  /** The RFC 8707 resource indicator to send again when refreshing. */
  readonly resource?: string;
  /** Plain-http token endpoint allowed: set only for routes that opted in (local development). */
  readonly allowInsecureRequests?: boolean;
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly idToken?: string;
  /** When the access token expires (epoch ms); unknown when the response had no `expires_in`. */
  readonly expiresAt?: number;
  readonly scope?: string;
  readonly tokenType: string;
}

/** The encrypted part. */
export interface VaultSecrets {
  readonly accessToken: string;
  readonly refreshToken?: string;
  readonly idToken?: string;
  /** {@link securityBinding} of the clear metadata at write time; checked on every read. */
  readonly bound?: string;
}

/**
 * A digest of the clear attributes that decide where tokens and secrets are sent (token and
 * revocation endpoints, client, authentication method, resource, the http escape hatch). It is
 * sealed with the tokens, so an item whose clear metadata was edited in the table no longer opens:
 * table write access alone cannot redirect a refresh or a revocation to another server.
 */
export function securityBinding(
  m: Pick<
    VaultMetadata,
    'tokenEndpoint' | 'revocationEndpoint' | 'clientId' | 'clientAuth' | 'resource' | 'allowInsecureRequests'
  >,
): string {
  return sha256Base64url(
    JSON.stringify([
      'mcp-edge/vault-binding/v1',
      m.tokenEndpoint,
      m.revocationEndpoint ?? null,
      m.clientId,
      m.clientAuth.method,
      m.resource ?? null,
      m.allowInsecureRequests === true,
    ]),
  );
}

export type VaultMetadata = Omit<VaultTokens, keyof VaultSecrets>;

/** A vault item as read from the table. */
export interface VaultItem extends VaultMetadata {
  readonly route: string;
  readonly secrets: EncryptedBlob;
  readonly hasRefreshToken: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Incremented by every write of new tokens; refresh leases and their outcome are conditional on it. */
  readonly version: number;
  /** Epoch ms until which one caller holds the refresh lease. */
  readonly leaseUntil?: number;
  readonly leaseId?: string;
  /** When the last refresh attempt failed without invalidating the grant, and what callers were told. */
  readonly refreshFailedAt?: number;
  readonly refreshError?: 'upstream_unavailable' | 'reauthorization_required';
}

/** Metadata attributes that a write of new tokens sets, or removes when absent. */
const OPTIONAL_METADATA = [
  'revocationEndpoint',
  'resource',
  'allowInsecureRequests',
  'expiresAt',
  'scope',
] as const;

/** The metadata attributes of a write, split into those to set and those to remove. */
export function metadataAttributes(tokens: VaultMetadata): {
  set: Record<string, unknown>;
  remove: string[];
} {
  const set: Record<string, unknown> = {
    issuer: tokens.issuer,
    tokenEndpoint: tokens.tokenEndpoint,
    clientId: tokens.clientId,
    clientAuth: JSON.parse(JSON.stringify(tokens.clientAuth)),
    tokenType: tokens.tokenType,
  };
  const remove: string[] = [];
  for (const name of OPTIONAL_METADATA) {
    const value = tokens[name];
    if (value === undefined || value === false) remove.push(name);
    else set[name] = value;
  }
  return { set, remove };
}

/** The metadata part of an item (no secrets, no lease bookkeeping). */
export function metadataOf(item: VaultItem): VaultMetadata {
  const { issuer, tokenEndpoint, clientId, clientAuth, tokenType } = item;
  const metadata: Record<string, unknown> = { issuer, tokenEndpoint, clientId, clientAuth, tokenType };
  for (const name of OPTIONAL_METADATA) if (item[name] !== undefined) metadata[name] = item[name];
  return metadata as unknown as VaultMetadata;
}

/**
 * An UpdateExpression for `set` (values), `setRaw` (expressions written by the caller, which may
 * use the returned names and values) and `remove`. Every attribute name goes through a
 * placeholder, so reserved words (`scope`, `version`, …) need no special care.
 */
export function updateExpression(
  set: Record<string, unknown>,
  remove: readonly string[],
  setRaw: readonly string[] = [],
): {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  values: Record<string, unknown>;
} {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = [...setRaw];
  for (const [name, value] of Object.entries(set)) {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
    sets.push(`#${name} = :${name}`);
  }
  for (const name of remove) names[`#${name}`] = name;
  const parts: string[] = [];
  if (sets.length > 0) parts.push(`SET ${sets.join(', ')}`);
  if (remove.length > 0) parts.push(`REMOVE ${remove.map((n) => `#${n}`).join(', ')}`);
  return { UpdateExpression: parts.join(' '), ExpressionAttributeNames: names, values };
}
