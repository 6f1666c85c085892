import { type Clock, systemClock } from '../store/clock.ts';
import { type StoreDeps, VAULT_SORT_PREFIX, vaultKey, vaultPartition } from '../store/keys.ts';
import type { UpstreamRefreshOutcome } from '../telemetry.ts';
import { type Cipher, DecryptError } from './cipher.ts';
import { type ClientSecretResolver, resolveClientAuth } from './client-auth.ts';
import {
  metadataAttributes,
  metadataOf,
  securityBinding,
  updateExpression,
  type VaultItem,
  type VaultMetadata,
  type VaultSecrets,
  type VaultTokens,
} from './item.ts';
import { createLease, LEASE_FIELDS, pollDelay } from './lease.ts';
import { type RefreshOutcome, refreshGrant } from './refresh.ts';

/** One vault item per (route, user); the route is its origin, the user `userIdFor(issuer, sub)`. */
export interface VaultKey {
  readonly route: string;
  readonly user: string;
}

export type VaultGetResult =
  | {
      readonly ok: true;
      readonly accessToken: string;
      readonly tokenType: string;
      readonly expiresAt?: number;
      readonly scope?: string;
    }
  | {
      readonly ok: false;
      readonly code: 'not_connected' | 'reauthorization_required' | 'upstream_unavailable' | 'decrypt_failed';
    };

/** A row of the connections page: never a token. */
export interface VaultConnection {
  readonly route: string;
  readonly issuer: string;
  readonly scope?: string;
  readonly expiresAt?: number;
  readonly updatedAt: number;
  readonly hasRefreshToken: boolean;
}

/** What a disconnect returns: enough to revoke at the upstream (RFC 7009). */
export interface RemovedConnection extends VaultMetadata {
  readonly route: string;
  /** Absent when the secrets could not be decrypted (the item is removed all the same). */
  readonly accessToken?: string;
  readonly refreshToken?: string;
}

export interface VaultOptions extends StoreDeps {
  readonly cipher: Cipher;
  /**
   * The fetch for a route's refresh grants; the handler passes that route's SSRF-guarded fetch
   * (private networks only where the route opted in). Default: global fetch.
   */
  readonly fetchFor?: (route: string) => typeof fetch;
  /** Needed for items whose client authenticates with a secret. */
  readonly clientSecret?: ClientSecretResolver;
  /** Refresh when the access token expires within this margin. Default 60. */
  readonly refreshSkewSeconds?: number;
  /**
   * How long a refresh lease lasts before another caller may take it over. Default 15. The whole
   * refresh runs within it (see {@link createVault}); storing the answer gets a renewed one.
   */
  readonly leaseSeconds?: number;
  /** Timeout of the refresh request; must be below the lease. Default two thirds of the lease. */
  readonly refreshTimeoutMs?: number;
}

export interface Vault {
  /** Stores new tokens for (route, user), replacing any earlier ones (a reconnect). */
  put(key: VaultKey, tokens: VaultTokens): Promise<void>;
  /**
   * A usable access token, refreshed first when it is about to expire (or when it equals
   * `rejectedAccessToken`, the token the upstream just answered 401 to). Concurrent callers
   * share one refresh: see the lease algorithm in docs/storage.md.
   */
  get(
    key: VaultKey,
    options?: {
      readonly rejectedAccessToken?: string;
      /** Hears the outcome of a refresh this call makes (telemetry; never a token). */
      readonly onRefresh?: (outcome: UpstreamRefreshOutcome) => void;
    },
  ): Promise<VaultGetResult>;
  /** The user's connections, by route. */
  list(user: string): Promise<VaultConnection[]>;
  /** Removes the item and returns what revocation needs, or `undefined` when there was none. */
  delete(key: VaultKey): Promise<RemovedConnection | undefined>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A step that did not finish before its deadline (it is abandoned, not cancelled). */
class LateError extends Error {
  override readonly name = 'LateError';
}

/** `work`, or {@link LateError} once `ms` have passed; `signal` tells work that can stop to stop. */
async function within<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (!(ms > 0)) throw new LateError();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new LateError());
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The shortest refresh request worth sending; with less time left the refresh is not attempted. */
const MIN_REQUEST_MS = 250;

export function createVault(options: VaultOptions): Vault {
  const { table, tableName, cipher } = options;
  const clock: Clock = options.clock ?? systemClock;
  const skewMs = (options.refreshSkewSeconds ?? 60) * 1000;
  const leaseMs = (options.leaseSeconds ?? 15) * 1000;
  const timeoutMs = options.refreshTimeoutMs ?? Math.floor((leaseMs * 2) / 3);
  if (!(timeoutMs > 0 && timeoutMs < leaseMs)) {
    throw new TypeError('refreshTimeoutMs must be below the lease');
  }
  /**
   * Losers give up waiting after two leases and a margin: the winner's lease, renewed once while it
   * stores the answer, has then been released or has lapsed. (Only the proxy waits: its function
   * runs for up to 15 minutes.)
   */
  const maxWaitMs = 2 * leaseMs + 1000;
  /**
   * The winner counts its lease as ending this much early: other instances compare `leaseUntil`
   * with their own clocks.
   */
  const clockMarginMs = Math.min(1000, leaseMs / 10);
  /** Kept free after the refresh request: time to renew the lease before the upstream's answer is stored. */
  const renewReserveMs = leaseMs / 3;
  const lease = createLease({ table, tableName, clock, leaseMs });

  const read = async (key: VaultKey) => {
    const { Item } = await table.get({
      TableName: tableName,
      Key: vaultKey(key.route, key.user),
      ConsistentRead: true,
    });
    return Item as VaultItem | undefined;
  };

  /** The secrets, decrypted under the caller's route and user (never the item's own attributes). */
  const openSecrets = async (item: VaultItem, key: VaultKey): Promise<VaultSecrets | undefined> => {
    try {
      const plaintext = await cipher.decrypt(item.secrets, {
        route: key.route,
        user: key.user,
        issuer: item.issuer,
      });
      const secrets = JSON.parse(new TextDecoder().decode(plaintext)) as VaultSecrets;
      if (typeof secrets.accessToken !== 'string') return undefined;
      // The clear metadata must be what was sealed with the tokens (see securityBinding).
      return secrets.bound === securityBinding(item) ? secrets : undefined;
    } catch (error) {
      if (error instanceof DecryptError || error instanceof SyntaxError) return undefined;
      throw error;
    }
  };

  const sealSecrets = (secrets: VaultSecrets, key: VaultKey, metadata: VaultMetadata) =>
    cipher.encrypt(
      new TextEncoder().encode(JSON.stringify({ ...secrets, bound: securityBinding(metadata) })),
      {
        route: key.route,
        user: key.user,
        issuer: metadata.issuer,
      },
    );

  const needsRefresh = (item: VaultItem, secrets: VaultSecrets, rejected: string | undefined) =>
    (rejected !== undefined && secrets.accessToken === rejected) ||
    (item.expiresAt !== undefined && item.expiresAt - skewMs < clock.now());

  /** The stored token when it is still usable, else the refusal `code`. */
  const currentTokenOr = (
    item: VaultItem,
    secrets: VaultSecrets,
    rejected: string | undefined,
    code: 'reauthorization_required' | 'upstream_unavailable',
  ): VaultGetResult => {
    const expired = item.expiresAt !== undefined && item.expiresAt <= clock.now();
    if (expired || secrets.accessToken === rejected) return { ok: false, code };
    return {
      ok: true,
      accessToken: secrets.accessToken,
      tokenType: item.tokenType,
      ...(item.expiresAt === undefined ? {} : { expiresAt: item.expiresAt }),
      ...(item.scope === undefined ? {} : { scope: item.scope }),
    };
  };

  /** Stores a refresh's tokens (rotated refresh token included), bumps the version, ends the lease. */
  const persist = async (
    key: VaultKey,
    item: VaultItem,
    previous: VaultSecrets,
    leaseId: string,
    outcome: Extract<RefreshOutcome, { kind: 'tokens' }>,
    signal?: AbortSignal,
  ) => {
    const { kind: _kind, accessToken, refreshToken, idToken, ...fresh } = outcome;
    const keptIdToken = idToken ?? previous.idToken;
    const metadata: VaultMetadata = { ...metadataOf(item), expiresAt: undefined, ...fresh };
    const secrets = await sealSecrets(
      { accessToken, refreshToken, ...(keptIdToken === undefined ? {} : { idToken: keptIdToken }) },
      key,
      metadata,
    );
    const { set, remove } = metadataAttributes(metadata);
    const update = updateExpression(
      { ...set, secrets, hasRefreshToken: true, updatedAt: clock.now() },
      [...remove, ...LEASE_FIELDS],
      ['#version = #version + :one'],
    );
    update.ExpressionAttributeNames['#version'] = 'version';
    update.values[':one'] = 1;
    if (signal?.aborted) return;
    await lease.write(key, leaseId, update, signal);
  };

  /**
   * The winner's part: one refresh grant and its outcome persisted, all within the lease. The
   * refresh token is spent only if the answer can still be received while the lease holds: the
   * client secret (Secrets Manager on first use) is resolved first, the request's timeout is what
   * is left of the lease less the time to renew it, and with too little left the refresh is not
   * tried at all (nothing is spent; callers keep the current token or hear `upstream_unavailable`).
   * Once the upstream has answered, the lease is renewed, so a slow KMS or table while the answer
   * is stored never lets another caller take over and spend the same refresh token again.
   */
  const refreshAsWinner = async (
    key: VaultKey,
    item: VaultItem,
    secrets: VaultSecrets & { refreshToken: string },
    leaseId: string,
    /** `performance.now()` when the lease was asked for: it runs from then, not from the answer. */
    askedAt: number,
    rejected: string | undefined,
    onRefresh: ((outcome: UpstreamRefreshOutcome) => void) | undefined,
  ): Promise<VaultGetResult> => {
    let ends = askedAt + leaseMs - clockMarginMs;
    const left = () => ends - performance.now();
    const release = (fields: Record<string, unknown> = {}) =>
      within(left(), (signal) =>
        lease.write(key, leaseId, updateExpression(fields, ['leaseUntil', 'leaseId']), signal),
      ).catch(() => undefined);

    let outcome: RefreshOutcome;
    try {
      const auth = await within(left() - renewReserveMs - MIN_REQUEST_MS, () =>
        resolveClientAuth(options.clientSecret, { ...item, route: key.route }),
      );
      const requestMs = Math.floor(Math.min(timeoutMs, left() - renewReserveMs));
      if (requestMs < MIN_REQUEST_MS) throw new LateError();
      outcome = await refreshGrant({ ...item, route: key.route }, secrets.refreshToken, {
        fetch: options.fetchFor?.(key.route),
        auth,
        timeoutMs: requestMs,
        now: () => clock.now(),
      });
    } catch (error) {
      onRefresh?.('error');
      if (error instanceof LateError) {
        // Nothing was spent: the lease is freed for the next caller, who may have more luck.
        await release({ refreshFailedAt: clock.now(), refreshError: 'upstream_unavailable' });
        return currentTokenOr(item, secrets, rejected, 'upstream_unavailable');
      }
      // Not the upstream's doing (e.g. a secret resolver failed): free the lease, then report.
      await release();
      throw error;
    }
    onRefresh?.(outcome.kind);
    const renewedAt = performance.now();
    if (await within(left(), (signal) => lease.extend(key, leaseId, signal)).catch(() => false)) {
      // Like the take: the renewed lease counts from when it was asked for.
      ends = renewedAt + leaseMs - clockMarginMs;
    }
    const store = async <T>(work: (signal: AbortSignal) => Promise<T>) =>
      within(left(), work).catch((error) => {
        // Too slow to store within the lease: the answer is lost, as if the upstream had not answered.
        if (!(error instanceof LateError) && !(error instanceof Error && error.name === 'AbortError'))
          throw error;
      });
    switch (outcome.kind) {
      case 'tokens':
        await store((signal) => persist(key, item, secrets, leaseId, outcome, signal));
        return {
          ok: true,
          accessToken: outcome.accessToken,
          tokenType: outcome.tokenType,
          ...(outcome.expiresAt === undefined ? {} : { expiresAt: outcome.expiresAt }),
          ...(outcome.scope === undefined ? {} : { scope: outcome.scope }),
        };
      case 'invalid_grant':
        await store((signal) => lease.write(key, leaseId, 'delete', signal));
        return { ok: false, code: 'reauthorization_required' };
      default: {
        const code = outcome.kind === 'unavailable' ? 'upstream_unavailable' : 'reauthorization_required';
        await release({ refreshFailedAt: clock.now(), refreshError: code });
        return currentTokenOr(item, secrets, rejected, code);
      }
    }
  };

  return {
    async put(key, tokens) {
      const now = clock.now();
      const { accessToken, refreshToken, idToken } = tokens;
      const secrets = await sealSecrets(
        {
          accessToken,
          ...(refreshToken === undefined ? {} : { refreshToken }),
          ...(idToken === undefined ? {} : { idToken }),
        },
        key,
        tokens,
      );
      const { set, remove } = metadataAttributes(tokens);
      const update = updateExpression(
        { ...set, route: key.route, secrets, hasRefreshToken: refreshToken !== undefined, updatedAt: now },
        [...remove, ...LEASE_FIELDS],
        ['#createdAt = if_not_exists(#createdAt, :now)', '#version = if_not_exists(#version, :zero) + :one'],
      );
      await table.update({
        TableName: tableName,
        Key: vaultKey(key.route, key.user),
        UpdateExpression: update.UpdateExpression,
        ExpressionAttributeNames: {
          ...update.ExpressionAttributeNames,
          '#createdAt': 'createdAt',
          '#version': 'version',
        },
        ExpressionAttributeValues: { ...update.values, ':now': now, ':zero': 0, ':one': 1 },
      });
    },

    async get(key, getOptions = {}) {
      const rejected = getOptions.rejectedAccessToken;
      const startedAt = clock.now();
      const waitUntil = performance.now() + maxWaitMs;
      let item = await read(key);
      if (!item) return { ok: false, code: 'not_connected' };
      let secrets = await openSecrets(item, key);
      if (!secrets) return { ok: false, code: 'decrypt_failed' };
      if (!needsRefresh(item, secrets, rejected)) {
        return currentTokenOr(item, secrets, rejected, 'reauthorization_required');
      }

      let attempt = 0;
      for (;;) {
        const { refreshToken } = secrets;
        if (refreshToken === undefined)
          return currentTokenOr(item, secrets, rejected, 'reauthorization_required');
        const askedAt = performance.now();
        const leaseId = await lease.take(key, item.version);
        if (leaseId !== undefined) {
          return refreshAsWinner(
            key,
            item,
            { ...secrets, refreshToken },
            leaseId,
            askedAt,
            rejected,
            getOptions.onRefresh,
          );
        }
        // A loser: wait for the winner's new version, its failure, or its lease to lapse.
        for (;;) {
          if (performance.now() > waitUntil)
            return currentTokenOr(item, secrets, rejected, 'upstream_unavailable');
          await sleep(pollDelay(attempt++));
          const next = await read(key);
          if (!next) return { ok: false, code: 'reauthorization_required' };
          if (next.version !== item.version) {
            item = next;
            secrets = await openSecrets(item, key);
            if (!secrets) return { ok: false, code: 'decrypt_failed' };
            if (!needsRefresh(item, secrets, rejected)) {
              return currentTokenOr(item, secrets, rejected, 'reauthorization_required');
            }
            break;
          }
          if (next.refreshFailedAt !== undefined && next.refreshFailedAt >= startedAt) {
            return currentTokenOr(item, secrets, rejected, next.refreshError ?? 'upstream_unavailable');
          }
          if (next.leaseUntil === undefined || next.leaseUntil < clock.now()) break;
        }
      }
    },

    async list(user) {
      const connections: VaultConnection[] = [];
      let start: Record<string, unknown> | undefined;
      do {
        const page = await table.query({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ProjectionExpression: '#route, issuer, #scope, expiresAt, updatedAt, hasRefreshToken',
          ExpressionAttributeNames: { '#route': 'route', '#scope': 'scope' },
          ExpressionAttributeValues: { ':pk': vaultPartition(user), ':prefix': VAULT_SORT_PREFIX },
          ExclusiveStartKey: start,
        });
        for (const row of page.Items ?? []) {
          connections.push({
            route: row.route as string,
            issuer: row.issuer as string,
            ...(row.scope === undefined ? {} : { scope: row.scope as string }),
            ...(row.expiresAt === undefined ? {} : { expiresAt: row.expiresAt as number }),
            updatedAt: row.updatedAt as number,
            hasRefreshToken: row.hasRefreshToken === true,
          });
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return connections;
    },

    async delete(key) {
      const { Attributes } = await table.delete({
        TableName: tableName,
        Key: vaultKey(key.route, key.user),
        ReturnValues: 'ALL_OLD',
      });
      const item = Attributes as VaultItem | undefined;
      if (!item) return undefined;
      // The item is gone whatever happens next; tokens are only a courtesy for revocation.
      const secrets = await openSecrets(item, key).catch(() => undefined);
      return {
        route: key.route,
        ...metadataOf(item),
        ...(secrets ? { accessToken: secrets.accessToken } : {}),
        ...(secrets?.refreshToken ? { refreshToken: secrets.refreshToken } : {}),
      };
    },
  };
}
