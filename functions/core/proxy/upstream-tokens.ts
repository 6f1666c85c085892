import type { Telemetry, UpstreamRefreshOutcome } from '../telemetry.ts';
import type { Vault, VaultGetResult } from '../vault/vault.ts';

/**
 * The person's upstream access token for a route, kept decrypted in this function instance
 * (DESIGN "Upstream token"): a warm call makes no DynamoDB or KMS call. The vault is asked again
 * when the token is within `refreshSkewMs` of its expiry (the vault refreshes it under its lease),
 * when the upstream refused it, and at least every `recheckMs` per (route, person) — so a
 * disconnect or a reconnect elsewhere is seen within that time. Concurrent misses share one read.
 * At most `maxEntries` entries; the least recently used go first. Tokens are never logged.
 */
export interface UpstreamTokens {
  /** `telemetry` hears of a refresh this call makes (not of one it only waits for). */
  get(
    route: string,
    user: string,
    options?: { rejected?: string; telemetry?: Telemetry },
  ): Promise<VaultGetResult>;
  /** Forgets a (route, person): after a disconnect seen by this instance. */
  forget(route: string, user: string): void;
}

const refreshReporter = (telemetry: Telemetry) => (outcome: UpstreamRefreshOutcome) =>
  telemetry.upstreamRefresh(outcome);

interface Entry {
  readonly result: VaultGetResult & { ok: true };
  readonly checkedAt: number;
}

export function createUpstreamTokens(options: {
  vault: Pick<Vault, 'get'>;
  now?: () => number;
  recheckMs?: number;
  refreshSkewMs?: number;
  maxEntries?: number;
}): UpstreamTokens {
  const now = options.now ?? Date.now;
  const recheckMs = options.recheckMs ?? 60_000;
  const skewMs = options.refreshSkewMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 1000;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<VaultGetResult>>();
  const keyOf = (route: string, user: string) => JSON.stringify([route, user]);

  const fresh = (entry: Entry | undefined, rejected: string | undefined): entry is Entry => {
    if (!entry) return false;
    const t = now();
    if (rejected !== undefined && entry.result.accessToken === rejected) return false;
    if (t - entry.checkedAt >= recheckMs) return false;
    return entry.result.expiresAt === undefined || entry.result.expiresAt - skewMs > t;
  };

  return {
    get(route, user, getOptions = {}) {
      const key = keyOf(route, user);
      const hit = cache.get(key);
      if (fresh(hit, getOptions.rejected)) {
        cache.delete(key);
        cache.set(key, hit);
        return Promise.resolve(hit.result);
      }
      // A rejected token needs its own vault call (which refreshes); otherwise share one read.
      const shared = getOptions.rejected === undefined ? inFlight.get(key) : undefined;
      if (shared) return shared;
      const read = options.vault
        .get(
          { route, user },
          {
            ...(getOptions.rejected ? { rejectedAccessToken: getOptions.rejected } : {}),
            ...(getOptions.telemetry ? { onRefresh: refreshReporter(getOptions.telemetry) } : {}),
          },
        )
        .then((result) => {
          if (result.ok) {
            cache.delete(key);
            cache.set(key, { result, checkedAt: now() });
            while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
          } else {
            cache.delete(key);
          }
          return result;
        })
        .finally(() => {
          if (inFlight.get(key) === read) inFlight.delete(key);
        });
      if (getOptions.rejected === undefined) inFlight.set(key, read);
      return read;
    },
    forget(route, user) {
      cache.delete(keyOf(route, user));
    },
  };
}
