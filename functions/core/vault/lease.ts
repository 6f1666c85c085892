import { randomToken } from '../crypto/random.ts';
import type { Clock } from '../store/clock.ts';
import { isConditionFailure, vaultKey } from '../store/keys.ts';
import type { Table } from '../store/table.ts';
import type { updateExpression } from './item.ts';

/**
 * The refresh lease on a vault item: a conditional write that at most one caller wins per
 * item version, so N concurrent requests for an expiring token cause one refresh grant.
 * The algorithm is described in docs/storage.md.
 */
export interface Lease {
  /** Takes the lease on `version` of the item, or answers `undefined` when someone else holds it or the item moved on. */
  take(key: LeaseKey, version: number): Promise<string | undefined>;
  /**
   * Runs an update or delete that is conditional on still holding lease `leaseId`. A refused
   * condition means the lease was lost (a reconnect replaced the item, a disconnect removed
   * it, or it lapsed and was taken over): that other write wins and ours is dropped.
   */
  write(
    key: LeaseKey,
    leaseId: string,
    write: ReturnType<typeof updateExpression> | 'delete',
    signal?: AbortSignal,
  ): Promise<void>;
  /**
   * Renews lease `leaseId` for a whole lease from now, if it is still held: the winner calls it
   * as soon as the upstream has answered, so storing the answer (KMS, table) gets its own lease.
   */
  extend(key: LeaseKey, leaseId: string, signal?: AbortSignal): Promise<boolean>;
}

export interface LeaseKey {
  readonly route: string;
  readonly user: string;
}

/** The attributes of lease bookkeeping, removed by every write of new tokens. */
export const LEASE_FIELDS = ['leaseUntil', 'leaseId', 'refreshFailedAt', 'refreshError'] as const;

/** Loser back-off: 25, 50, 100, 200, 250, 250 … ms, with jitter so pollers spread out. */
export function pollDelay(attempt: number): number {
  return Math.min(25 * 2 ** attempt, 250) + Math.random() * 25;
}

export function createLease(deps: {
  readonly table: Table;
  readonly tableName: string;
  readonly clock: Clock;
  readonly leaseMs: number;
}): Lease {
  const { table, tableName, clock, leaseMs } = deps;
  return {
    async take(key, version) {
      const leaseId = randomToken(16);
      const now = clock.now();
      try {
        await table.update({
          TableName: tableName,
          Key: vaultKey(key.route, key.user),
          UpdateExpression: 'SET #leaseUntil = :until, #leaseId = :lease',
          ConditionExpression:
            'attribute_exists(pk) AND #version = :v AND (attribute_not_exists(#leaseUntil) OR #leaseUntil < :now)',
          ExpressionAttributeNames: {
            '#leaseUntil': 'leaseUntil',
            '#leaseId': 'leaseId',
            '#version': 'version',
          },
          ExpressionAttributeValues: {
            ':until': now + leaseMs,
            ':lease': leaseId,
            ':v': version,
            ':now': now,
          },
        });
        return leaseId;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        // Our own take, whose answer was lost and whose retry (the SDK's) then found it held: the
        // lease id is this call's random one.
        const { Item } = await table.get({
          TableName: tableName,
          Key: vaultKey(key.route, key.user),
          ConsistentRead: true,
        });
        return Item?.leaseId === leaseId ? leaseId : undefined;
      }
    },

    async extend(key, leaseId, signal) {
      try {
        await table.update(
          {
            TableName: tableName,
            Key: vaultKey(key.route, key.user),
            UpdateExpression: 'SET #leaseUntil = :until',
            ConditionExpression: '#leaseId = :lease',
            ExpressionAttributeNames: { '#leaseUntil': 'leaseUntil', '#leaseId': 'leaseId' },
            ExpressionAttributeValues: { ':until': clock.now() + leaseMs, ':lease': leaseId },
          },
          { abortSignal: signal },
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },

    async write(key, leaseId, write, signal) {
      const common = {
        TableName: tableName,
        Key: vaultKey(key.route, key.user),
        ConditionExpression: '#leaseId = :lease',
      };
      try {
        if (write === 'delete') {
          await table.delete(
            {
              ...common,
              ExpressionAttributeNames: { '#leaseId': 'leaseId' },
              ExpressionAttributeValues: { ':lease': leaseId },
            },
            { abortSignal: signal },
          );
        } else {
          await table.update(
            {
              ...common,
              UpdateExpression: write.UpdateExpression,
              ExpressionAttributeNames: { ...write.ExpressionAttributeNames, '#leaseId': 'leaseId' },
              ExpressionAttributeValues: { ...write.values, ':lease': leaseId },
            },
            { abortSignal: signal },
          );
        }
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },
  };
}
