import { sha256Base64url } from '../crypto/hash.ts';
import { isRandomToken, randomToken } from '../crypto/random.ts';
import { systemClock, ttlSeconds } from './clock.ts';
import {
  type AuthenticatedStoreDeps,
  byMac,
  consentSortKey,
  grantPartition,
  grantSortPrefix,
  type ItemKey,
  isConditionFailure,
  putFreshRecord,
  putNewRecord,
  refreshKey,
} from './keys.ts';

/**
 * What a person has granted MCP clients on each route (DESIGN "Tokens"):
 *
 * - a **consent** per (person, route, client): remembered so the consent page is not shown again
 *   for the same scopes, listed on the connections page, revocable there;
 * - a **grant** per code exchange: the family of tokens one authorization started. Access tokens
 *   carry its id (`sid`); revoking it ends every refresh token of the family;
 * - **refresh tokens**: opaque 256-bit, stored as their hash, bound to (client, route, person,
 *   grant), rotated on every use. A rotated token presented again revokes its grant (RFC 9700
 *   §4.14.2): whoever presents it, the legitimate client or a thief, the family ends.
 *
 * Consents, grants and refresh tokens are tagged (record-mac.ts) over who and what they are for:
 * one planted or edited in the table is treated as absent (no consent bypass, no refresh token
 * minted for another person). A revocation tombstone carries no tag, and an untagged grant is dead.
 */

export type ClientKind = 'cimd' | 'registered' | 'configured';

export interface Consent {
  readonly route: string;
  readonly clientId: string;
  readonly clientName: string;
  readonly clientKind: ClientKind;
  readonly scope: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface GrantRef {
  readonly userId: string;
  readonly route: string;
  readonly clientId: string;
  readonly grantId: string;
}

export interface NewGrant extends GrantRef {
  readonly scope: string;
  readonly resource: string;
}

export type RotateResult =
  | { readonly ok: true; readonly refreshToken: string; readonly grant: NewGrant }
  | { readonly ok: false; readonly reason: 'unknown' | 'expired' | 'mismatch' | 'revoked' }
  | { readonly ok: false; readonly reason: 'reused'; readonly grant: GrantRef };

/**
 * The grant was revoked before it could be created: its code was replayed meanwhile, or the
 * person revoked the client after approving it (a code issued just before "Revoke").
 */
export class GrantRevokedError extends Error {
  override readonly name = 'GrantRevokedError';
  readonly code = 'invalid_grant';
  constructor(readonly reason: 'replayed' | 'client_revoked' = 'replayed') {
    super(`the grant was revoked (${reason})`);
  }
}

export interface GrantStore {
  rememberConsent(userId: string, consent: Omit<Consent, 'createdAt' | 'updatedAt'>): Promise<void>;
  getConsent(userId: string, route: string, clientId: string): Promise<Consent | undefined>;
  listConsents(userId: string): Promise<Consent[]>;
  /**
   * Records a new grant and returns its first refresh token. `authorizedAt` is when the person
   * approved it (the code's issue time): a grant the person revoked the client after is refused.
   */
  createGrant(grant: NewGrant, authorizedAt?: number): Promise<string>;
  grantExists(ref: GrantRef): Promise<boolean>;
  /** Rotates a refresh token presented by `clientId` on `route`. */
  rotate(token: string, presented: { clientId: string; route: string }): Promise<RotateResult>;
  revokeGrant(ref: GrantRef): Promise<void>;
  /** The grant a refresh token belongs to, if `clientId` on `route` holds it (RFC 7009). */
  grantOfRefreshToken(
    token: string,
    presented: { clientId: string; route: string },
  ): Promise<GrantRef | undefined>;
  /** Forgets the consent and revokes every grant of (person, route, client). */
  revokeClient(userId: string, route: string, clientId: string): Promise<void>;
}

export interface GrantStoreOptions extends AuthenticatedStoreDeps {
  /** How long a refresh token (and its grant) lives unused. Default 30 days. */
  readonly refreshTokenTtlDays?: number;
}

const DAY_MS = 86_400_000;
/** How long a revocation mark is kept: longer than any code lives (60 s) and its replay window. */
const REVOCATION_MARK_MS = 15 * 60_000;

const consentFields = (c: Record<string, unknown>) => [
  c.route,
  c.clientId,
  c.clientName,
  c.clientKind,
  c.scope,
  c.updatedAt,
];
const grantFields = (g: Record<string, unknown>) => [
  g.userId,
  g.route,
  g.clientId,
  g.grantId,
  g.scope,
  g.resource,
  g.createdAt,
];
const refreshFields = (r: Record<string, unknown>) => [...grantFields(r), r.expiresAt];

export function createGrantStore(options: GrantStoreOptions): GrantStore {
  const { table, tableName, records } = options;
  const clock = options.clock ?? systemClock;
  const consentKey = (userId: string, route: string, clientId: string): ItemKey => ({
    pk: grantPartition(userId),
    sk: consentSortKey(route, clientId),
  });
  const refreshTtlMs = (options.refreshTokenTtlDays ?? 30) * DAY_MS;
  /**
   * Marks when a person revoked a client on a route, for as long as a code issued before could
   * still be redeemed: a grant authorized before the mark is refused ({@link GrantStore.createGrant}).
   */
  const revocationKey = (userId: string, route: string, clientId: string): ItemKey => ({
    pk: grantPartition(userId),
    sk: `revoked#${route}#${sha256Base64url(clientId)}`,
  });

  const grantKey = (ref: GrantRef) => ({
    pk: grantPartition(ref.userId),
    sk: `${grantSortPrefix(ref.route, ref.clientId)}${ref.grantId}`,
  });

  const putRefresh = async (grant: NewGrant): Promise<string> => {
    const token = randomToken();
    const now = clock.now();
    const expiresAt = now + refreshTtlMs;
    const fields = { ...grant, createdAt: now, expiresAt };
    await putFreshRecord(
      { table, tableName },
      {
        ...refreshKey(token),
        ...fields,
        state: 'active',
        mac: records.tag(refreshKey(token), refreshFields(fields)),
        ttl: ttlSeconds(expiresAt),
      },
      byMac,
    );
    return token;
  };

  /** The refresh token's record, if the gateway wrote it. */
  const readRefresh = async (token: string) => {
    const { Item } = await table.get({ TableName: tableName, Key: refreshKey(token), ConsistentRead: true });
    return Item && records.verify(refreshKey(token), refreshFields(Item), Item.mac) ? Item : undefined;
  };
  const verifiedConsent = (userId: string, item: Record<string, unknown>) =>
    records.verify(
      consentKey(userId, item.route as string, item.clientId as string),
      consentFields(item),
      item.mac,
    );

  const store: GrantStore = {
    async rememberConsent(userId, consent) {
      const now = clock.now();
      const key = consentKey(userId, consent.route, consent.clientId);
      await table.update({
        TableName: tableName,
        Key: key,
        UpdateExpression:
          'SET #route = :route, clientId = :client, clientName = :name, clientKind = :kind, #scope = :scope, updatedAt = :now, mac = :mac, createdAt = if_not_exists(createdAt, :now)',
        ExpressionAttributeNames: { '#route': 'route', '#scope': 'scope' },
        ExpressionAttributeValues: {
          ':route': consent.route,
          ':client': consent.clientId,
          ':name': consent.clientName,
          ':kind': consent.clientKind,
          ':scope': consent.scope,
          ':now': now,
          ':mac': records.tag(key, consentFields({ ...consent, updatedAt: now })),
        },
      });
    },

    async getConsent(userId, route, clientId) {
      const { Item } = await table.get({
        TableName: tableName,
        Key: consentKey(userId, route, clientId),
        ConsistentRead: true,
      });
      return Item && verifiedConsent(userId, Item) ? toConsent(Item) : undefined;
    },

    async listConsents(userId) {
      const items: Record<string, unknown>[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const out = await table.query({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': grantPartition(userId), ':prefix': 'consent#' },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        });
        items.push(...(out.Items ?? []));
        start = out.LastEvaluatedKey;
      } while (start);
      return items.filter((item) => verifiedConsent(userId, item)).map(toConsent);
    },

    async createGrant(grant, authorizedAt) {
      const now = clock.now();
      const expiresAt = now + refreshTtlMs;
      const fields = { ...grant, createdAt: now };
      // A replayed code may have revoked this grant (left a tombstone) before it was created.
      const written = await putNewRecord(
        { table, tableName },
        {
          ...grantKey(grant),
          ...fields,
          mac: records.tag(grantKey(grant), grantFields(fields)),
          expiresAt,
          ttl: ttlSeconds(expiresAt),
        },
        byMac,
      );
      if (written === 'taken') throw new GrantRevokedError();
      if (authorizedAt !== undefined) {
        // Read after the grant exists: a revocation either wrote its mark before this read (seen
        // here) or queried the grants after this write (and deleted this one). Either way it wins.
        const { Item: mark } = await table.get({
          TableName: tableName,
          Key: revocationKey(grant.userId, grant.route, grant.clientId),
          ConsistentRead: true,
        });
        if (mark && typeof mark.revokedAt === 'number' && mark.revokedAt >= authorizedAt) {
          await store.revokeGrant(grant);
          throw new GrantRevokedError('client_revoked');
        }
      }
      return putRefresh(grant);
    },

    async grantExists(ref) {
      const { Item } = await table.get({ TableName: tableName, Key: grantKey(ref), ConsistentRead: true });
      return (
        Item !== undefined &&
        Item.revoked !== true &&
        (Item.expiresAt as number) > clock.now() &&
        records.verify(grantKey(ref), grantFields(Item), Item.mac)
      );
    },

    async rotate(token, presented) {
      if (!isRandomToken(token)) return { ok: false, reason: 'unknown' };
      const item = await readRefresh(token);
      if (!item) return { ok: false, reason: 'unknown' };
      if (item.clientId !== presented.clientId || item.route !== presented.route) {
        return { ok: false, reason: 'mismatch' };
      }
      const grant: NewGrant = {
        userId: item.userId,
        route: item.route,
        clientId: item.clientId,
        grantId: item.grantId,
        scope: item.scope,
        resource: item.resource,
      };
      if (item.state !== 'active') {
        await store.revokeGrant(grant);
        return { ok: false, reason: 'reused', grant };
      }
      const now = clock.now();
      if (!((item.expiresAt as number) > now)) return { ok: false, reason: 'expired' };
      // Checked before the claim: once a token is claimed, a concurrent reuse may revoke the grant,
      // and the one winner must still get its answer (exactly one success per token).
      if (!(await store.grantExists(grant))) return { ok: false, reason: 'revoked' };
      const claim = randomToken(16);
      try {
        await table.update({
          TableName: tableName,
          Key: refreshKey(token),
          UpdateExpression: 'SET #state = :rotated, rotatedAt = :now, rotatedBy = :claim',
          ConditionExpression: '#state = :active',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':rotated': 'rotated',
            ':active': 'active',
            ':now': now,
            ':claim': claim,
          },
        });
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // Our own claim, whose answer was lost and whose retry (the SDK's) then found it taken, is
        // no reuse: the claim value is this request's random one.
        if ((await readRefresh(token))?.rotatedBy !== claim) {
          // Another request rotated it first: this is a second use of one refresh token.
          await store.revokeGrant(grant);
          return { ok: false, reason: 'reused', grant };
        }
      }
      // The grant lives as long as its newest refresh token.
      await table
        .update({
          TableName: tableName,
          Key: grantKey(grant),
          UpdateExpression: 'SET expiresAt = :exp, #ttl = :ttl',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#ttl': 'ttl' },
          ExpressionAttributeValues: { ':exp': now + refreshTtlMs, ':ttl': ttlSeconds(now + refreshTtlMs) },
        })
        .catch((error) => {
          if (!isConditionFailure(error)) throw error;
        });
      return { ok: true, refreshToken: await putRefresh(grant), grant };
    },

    async revokeGrant(ref) {
      // A tombstone, not a delete: a grant revoked before its creation (a code replayed while the
      // first exchange is still running) must not be created afterwards.
      const expiresAt = clock.now() + refreshTtlMs;
      await table.put({
        TableName: tableName,
        Item: { ...grantKey(ref), ...ref, revoked: true, expiresAt, ttl: ttlSeconds(expiresAt) },
      });
    },

    async grantOfRefreshToken(token, presented) {
      if (!isRandomToken(token)) return undefined;
      const item = await readRefresh(token);
      if (!item || item.clientId !== presented.clientId || item.route !== presented.route) return undefined;
      return { userId: item.userId, route: item.route, clientId: item.clientId, grantId: item.grantId };
    },

    async revokeClient(userId, route, clientId) {
      const pk = grantPartition(userId);
      // First the remembered consent, so no new code is issued without asking the person again;
      // then the mark, then the grants: a code approved before the mark and redeemed during or
      // after this finds the mark (createGrant), or its grant is among those deleted below.
      await table.delete({ TableName: tableName, Key: { pk, sk: consentSortKey(route, clientId) } });
      const now = clock.now();
      await table.put({
        TableName: tableName,
        Item: {
          ...revocationKey(userId, route, clientId),
          revokedAt: now,
          ttl: ttlSeconds(now + REVOCATION_MARK_MS),
        },
      });
      let start: Record<string, unknown> | undefined;
      do {
        const out = await table.query({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ':prefix': grantSortPrefix(route, clientId) },
          ProjectionExpression: 'pk, sk',
          ExclusiveStartKey: start,
          ConsistentRead: true,
        });
        for (const item of out.Items ?? []) {
          await table.delete({ TableName: tableName, Key: { pk: item.pk, sk: item.sk } });
        }
        start = out.LastEvaluatedKey;
      } while (start);
    },
  };
  return store;
}

function toConsent(item: Record<string, unknown>): Consent {
  return {
    route: item.route as string,
    clientId: item.clientId as string,
    clientName: item.clientName as string,
    clientKind: item.clientKind as ClientKind,
    scope: item.scope as string,
    createdAt: item.createdAt as number,
    updatedAt: item.updatedAt as number,
  };
}
