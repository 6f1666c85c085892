import { sha256Base64url } from '../crypto/hash.ts';
import type { Clock } from './clock.ts';
import type { RecordMac } from './record-mac.ts';
import type { Table } from './table.ts';

/** What every store takes by injection: the table client, the table's name, and the time. */
export interface StoreDeps {
  readonly table: Table;
  readonly tableName: string;
  /** Default: the system clock. */
  readonly clock?: Clock;
}

/** The deps of stores whose records are authenticated (record-mac.ts). */
export interface AuthenticatedStoreDeps extends StoreDeps {
  readonly records: RecordMac;
}

/** True for DynamoDB's refusal of a ConditionExpression (an expected outcome, not a failure). */
export function isConditionFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

/** How a put of a record that must not exist yet ended: stored, or refused because another is there. */
export type NewRecordWrite = 'written' | 'taken';

/** The value that tells a write apart from every other (its MAC, its sealed data's ciphertext). */
export type WriteProof = (item: Record<string, unknown>) => unknown;

/** The record's MAC (record-mac.ts): unique to its content, which holds a fresh timestamp or value. */
export const byMac: WriteProof = (item) => item.mac;

/**
 * Writes a new record (`attribute_not_exists(pk)`). A refused condition is read back: when the
 * record there has this write's own `proof` (a string unique to this write), it is this write,
 * stored by an attempt whose answer was lost and then retried (the table client's one retry) —
 * `written`; anything else is someone else's record — `taken`.
 */
export async function putNewRecord(
  deps: Pick<StoreDeps, 'table' | 'tableName'>,
  item: ItemKey & Record<string, unknown>,
  proof: WriteProof,
): Promise<NewRecordWrite> {
  try {
    await deps.table.put({
      TableName: deps.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(pk)',
    });
    return 'written';
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const { Item } = await deps.table.get({
      TableName: deps.tableName,
      Key: { pk: item.pk, sk: item.sk },
      ConsistentRead: true,
    });
    const mine = proof(item);
    return typeof mine === 'string' && Item !== undefined && proof(Item) === mine ? 'written' : 'taken';
  }
}

/** {@link putNewRecord} for a record at a key no one else can know (a fresh random value's hash). */
export async function putFreshRecord(
  deps: Pick<StoreDeps, 'table' | 'tableName'>,
  item: ItemKey & Record<string, unknown>,
  proof: WriteProof,
): Promise<void> {
  if ((await putNewRecord(deps, item, proof)) === 'taken') {
    throw new Error('a record already exists at a fresh random key');
  }
}

/**
 * Primary keys of every record kind in the one table (`pk`, `sk`; see TABLE_DEFINITION). Kinds
 * are told apart by the `pk` prefix. Anything derived from a secret we hand out (a state, a
 * session id) appears only as its SHA-256, so the table never holds a usable value.
 * The layout is documented in docs/storage.md.
 */
export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

/**
 * Every record kind's `pk` prefix (`<kind>#…`). The CDK stack limits each function's table access
 * to the kinds it uses with `dynamodb:LeadingKeys`, so this list is the one place they are named.
 */
export const RECORD_KINDS = [
  'state',
  'session',
  'vault',
  'registration',
  'discovery',
  // The gateway's own authorization server (toward MCP clients): dynamically registered clients,
  // authorization codes, each person's consents and grants, refresh tokens.
  'client',
  'code',
  'grant',
  'refresh',
] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

/**
 * The kinds of single-use records: upstream-connect state. (Sign-in transactions were `login`
 * records; they now travel sealed in a cookie, functions/core/auth/sign-in-transaction.ts.)
 */
export type SingleUseKind = 'state';

/** A single-use record, keyed by the hash of the value sent through the browser. */
export function singleUseKey(kind: SingleUseKind, value: string): ItemKey {
  return { pk: `${kind}#${sha256Base64url(value)}`, sk: kind };
}

/** A sign-in session, keyed by the hash of its cookie value. */
export function sessionKey(id: string): ItemKey {
  return { pk: `session#${sha256Base64url(id)}`, sk: 'session' };
}

/**
 * The vault's partition for one user: every connection of that user is one Query away. The
 * user id is hashed so the key has a fixed length and no user-chosen characters (an IdP
 * `sub` may contain `#`); it is not a secrecy measure (sessions hold the `sub` in clear).
 */
export function vaultPartition(user: string): string {
  return `vault#${sha256Base64url(user)}`;
}

export const VAULT_SORT_PREFIX = 'route#';

/** One vault item: one user's tokens for one route (route = its origin). */
export function vaultKey(route: string, user: string): ItemKey {
  return { pk: vaultPartition(user), sk: `${VAULT_SORT_PREFIX}${route}` };
}

/** A dynamically registered MCP client (RFC 7591), keyed by the hash of its client_id. */
export function mcpClientKey(clientId: string): ItemKey {
  return { pk: `client#${sha256Base64url(clientId)}`, sk: 'client' };
}

/** An authorization code the gateway issued, keyed by the code's hash. */
export function codeKey(code: string): ItemKey {
  return { pk: `code#${sha256Base64url(code)}`, sk: 'code' };
}

/** A refresh token the gateway issued, keyed by the token's hash. */
export function refreshKey(token: string): ItemKey {
  return { pk: `refresh#${sha256Base64url(token)}`, sk: 'refresh' };
}

/**
 * One person's consents and grants toward MCP clients share a partition, so the connections
 * page and "revoke this client" are one Query. Sort keys: `consent#{route}#{client}` and
 * `grant#{route}#{client}#{grant id}`, the client as the hash of its client_id (which may hold `#`).
 */
export function grantPartition(user: string): string {
  return `grant#${sha256Base64url(user)}`;
}

export function consentSortKey(route: string, clientId: string): string {
  return `consent#${route}#${sha256Base64url(clientId)}`;
}

export function grantSortPrefix(route: string, clientId: string): string {
  return `grant#${route}#${sha256Base64url(clientId)}#`;
}
