import { sha256Base64url } from '../crypto/hash.ts';
import type { UpstreamAuthorization } from '../oauth/upstream-discovery.ts';
import { systemClock, ttlSeconds } from './clock.ts';
import type { AuthenticatedStoreDeps } from './keys.ts';

/** How long a discovery result is reused: short, so an upstream's changes show up soon. */
export const DISCOVERY_TTL_SECONDS = 300;

/**
 * Upstream discovery results (PRM + authorization server metadata), cached in the table with a
 * short TTL so every Lambda container does not repeat three round trips per connect. Only
 * successful, validated results are stored. The result names the token endpoint that receives
 * codes, PKCE verifiers and client secrets, so it is tagged (record-mac.ts): an entry planted or
 * edited by a table writer is ignored and discovery runs again.
 */
export function createDiscoveryCache(deps: AuthenticatedStoreDeps & { ttlSeconds?: number }) {
  const clock = deps.clock ?? systemClock;
  const key = (route: string, upstream: string) => ({
    pk: `discovery#${sha256Base64url(`${route}\n${upstream}`)}`,
    sk: 'discovery',
  });
  return {
    async get(route: string, upstream: string): Promise<UpstreamAuthorization | undefined> {
      const { Item } = await deps.table.get({ TableName: deps.tableName, Key: key(route, upstream) });
      if (!Item || typeof Item.expiresAt !== 'number' || Item.expiresAt <= clock.now()) return undefined;
      if (
        !deps.records.verify(key(route, upstream), [route, upstream, Item.value, Item.expiresAt], Item.mac)
      ) {
        return undefined;
      }
      try {
        return JSON.parse(String(Item.value)) as UpstreamAuthorization;
      } catch {
        return undefined;
      }
    },
    async put(route: string, upstream: string, value: UpstreamAuthorization): Promise<void> {
      const expiresAt = clock.now() + (deps.ttlSeconds ?? DISCOVERY_TTL_SECONDS) * 1000;
      const json = JSON.stringify(value);
      await deps.table.put({
        TableName: deps.tableName,
        Item: {
          ...key(route, upstream),
          value: json,
          expiresAt,
          mac: deps.records.tag(key(route, upstream), [route, upstream, json, expiresAt]),
          ttl: ttlSeconds(expiresAt),
        },
      });
    },
  };
}

export type DiscoveryCache = ReturnType<typeof createDiscoveryCache>;
