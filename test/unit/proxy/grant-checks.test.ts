import { describe, expect, it } from 'vitest';
import type { AccessTokenClaims } from '../../../functions/core/authorization/access-token.ts';
import { createGrantChecks } from '../../../functions/core/proxy/grant-checks.ts';
import type { GrantRef, GrantStore } from '../../../functions/core/store/grants.ts';

const A = 'https://a.example.com';
const MINUTE = 60_000;

function claims(overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims {
  return {
    iss: A,
    aud: `${A}/mcp`,
    sub: 'alice',
    client_id: 'client-1',
    scope: 'mcp',
    jti: 'jti-1',
    iat: 0,
    exp: 600,
    sid: 'grant-1',
    ...overrides,
  };
}

/** A stand-in grant store: the grants that exist, and every lookup made. */
function standInGrants() {
  let time = 5_000_000;
  const alive = new Set<string>(['grant-1', 'grant-2']);
  const lookups: GrantRef[] = [];
  const grants: Pick<GrantStore, 'grantExists'> = {
    async grantExists(ref) {
      lookups.push(ref);
      return alive.has(ref.grantId);
    },
  };
  return { grants, alive, lookups, now: () => time, advance: (ms: number) => (time += ms) };
}

describe('createGrantChecks', () => {
  it('asks the table about a grant at most once a minute', async () => {
    const g = standInGrants();
    const check = createGrantChecks({ grants: g.grants, now: g.now });
    expect(await check(A, claims())).toBe(true);
    g.advance(MINUTE - 1);
    expect(await check(A, claims({ jti: 'another-token-same-grant' }))).toBe(true);
    expect(g.lookups).toEqual([{ userId: 'alice', route: A, clientId: 'client-1', grantId: 'grant-1' }]);
  });

  it('sees a revoked grant once the minute is over', async () => {
    const g = standInGrants();
    const check = createGrantChecks({ grants: g.grants, now: g.now });
    expect(await check(A, claims())).toBe(true);
    g.alive.delete('grant-1');
    g.advance(30_000);
    expect(await check(A, claims()), 'still within the minute').toBe(true);
    g.advance(30_000);
    expect(await check(A, claims())).toBe(false);
    expect(g.lookups).toHaveLength(2);
  });

  it('remembers a refusal for the minute too (no table call per request from a revoked client)', async () => {
    const g = standInGrants();
    const check = createGrantChecks({ grants: g.grants, now: g.now });
    expect(await check(A, claims({ sid: 'gone' }))).toBe(false);
    expect(await check(A, claims({ sid: 'gone' }))).toBe(false);
    expect(g.lookups).toHaveLength(1);
  });

  it('checks each grant, client, person and route on its own', async () => {
    const g = standInGrants();
    const check = createGrantChecks({ grants: g.grants, now: g.now });
    await check(A, claims());
    await check(A, claims({ sid: 'grant-2' }));
    await check(A, claims({ client_id: 'client-2' }));
    await check(A, claims({ sub: 'bob' }));
    await check('https://b.example.com', claims());
    expect(g.lookups).toHaveLength(5);
  });

  it('shares one table call among concurrent checks of the same grant', async () => {
    const g = standInGrants();
    const check = createGrantChecks({ grants: g.grants, now: g.now });
    const results = await Promise.all(Array.from({ length: 10 }, () => check(A, claims())));
    expect(results.every(Boolean)).toBe(true);
    expect(g.lookups).toHaveLength(1);
  });

  it('keeps at most maxEntries grants in memory', async () => {
    const g = standInGrants();
    const check = createGrantChecks({ grants: g.grants, now: g.now, maxEntries: 2 });
    await check(A, claims({ sid: 'grant-1' }));
    await check(A, claims({ sid: 'grant-2' }));
    await check(A, claims({ sid: 'grant-3' })); // evicts grant-1
    await check(A, claims({ sid: 'grant-1' }));
    expect(g.lookups.map((l) => l.grantId)).toEqual(['grant-1', 'grant-2', 'grant-3', 'grant-1']);
  });
});
