/**
 * Time, injected: domain code never calls `Date.now()` itself, so tests can move a record past
 * its expiry or a lease past its end without waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Epoch seconds for DynamoDB's TTL attribute, rounded up so an item never goes early. */
export function ttlSeconds(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}
