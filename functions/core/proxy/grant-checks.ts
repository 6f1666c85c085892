import type { AccessTokenClaims } from '../authorization/access-token.ts';
import type { GrantStore } from '../store/grants.ts';

/**
 * Whether the grant behind a gateway access token still exists, asked of the table at most once
 * a minute per grant in this instance: a revoked grant (client revoked on the connections page, a
 * replayed code or refresh token, RFC 7009) stops working within `recheckMs`, and a warm call makes
 * no table call.
 */
export function createGrantChecks(options: {
  grants: Pick<GrantStore, 'grantExists'>;
  now?: () => number;
  recheckMs?: number;
  maxEntries?: number;
}) {
  const now = options.now ?? Date.now;
  const recheckMs = options.recheckMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 5000;
  const checked = new Map<string, { alive: boolean; at: number }>();
  const inFlight = new Map<string, Promise<boolean>>();

  return (route: string, claims: AccessTokenClaims): Promise<boolean> => {
    const key = JSON.stringify([route, claims.sub, claims.client_id, claims.sid]);
    const hit = checked.get(key);
    if (hit && now() - hit.at < recheckMs) return Promise.resolve(hit.alive);
    let pending = inFlight.get(key);
    if (!pending) {
      pending = options.grants
        .grantExists({ userId: claims.sub, route, clientId: claims.client_id, grantId: claims.sid })
        .then((alive) => {
          checked.delete(key);
          checked.set(key, { alive, at: now() });
          while (checked.size > maxEntries) checked.delete(checked.keys().next().value as string);
          return alive;
        })
        .finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    return pending;
  };
}

export type GrantChecks = ReturnType<typeof createGrantChecks>;
