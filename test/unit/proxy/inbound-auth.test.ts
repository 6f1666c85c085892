import { describe, expect, it } from 'vitest';
import type {
  AccessTokenClaims,
  AccessTokenVerifier,
} from '../../../functions/core/authorization/access-token.ts';
import { cachingVerifier } from '../../../functions/core/proxy/inbound-auth.ts';
import { describeRoute } from '../../../functions/core/routes.ts';

const A = describeRoute({ from: 'https://a.example.com', to: 'https://up.example.net/mcp' });
const B = describeRoute({ from: 'https://b.example.com', to: 'https://up.example.net/mcp' });

/** A stand-in of our own verifier interface: counts calls, accepts tokens for route A only. */
function countingVerifier(exp: number) {
  const calls: string[] = [];
  const verify: AccessTokenVerifier = async (token, route) => {
    calls.push(`${route.origin} ${token}`);
    if (route !== A || token === 'bad') return { ok: false, code: 'invalid_token', reason: 'test' };
    return { ok: true, claims: { sub: 'alice', exp } as AccessTokenClaims };
  };
  return { verify, calls };
}

describe('cachingVerifier', () => {
  it('verifies a token once per route and keeps its claims until it expires', async () => {
    let now = 1_000_000;
    const inner = countingVerifier(now / 1000 + 600);
    const verify = cachingVerifier(inner.verify, { now: () => now });
    for (let i = 0; i < 5; i++) expect((await verify('t', A)).ok).toBe(true);
    expect(inner.calls).toHaveLength(1);
    now += 601_000;
    await verify('t', A);
    expect(inner.calls).toHaveLength(2);
  });

  it('keeps no refusal: a bad token, or a good one on another route, is verified every time', async () => {
    const inner = countingVerifier(Date.now() / 1000 + 600);
    const verify = cachingVerifier(inner.verify);
    await verify('bad', A);
    await verify('bad', A);
    await verify('t', A);
    expect((await verify('t', B)).ok).toBe(false);
    expect((await verify('t', B)).ok).toBe(false);
    expect(inner.calls).toEqual([
      'https://a.example.com bad',
      'https://a.example.com bad',
      'https://a.example.com t',
      'https://b.example.com t',
      'https://b.example.com t',
    ]);
  });

  it('holds at most maxEntries tokens, the oldest out first', async () => {
    const inner = countingVerifier(Date.now() / 1000 + 600);
    const verify = cachingVerifier(inner.verify, { maxEntries: 2 });
    await verify('1', A);
    await verify('2', A);
    await verify('3', A);
    await verify('1', A);
    expect(inner.calls.filter((c) => c.endsWith(' 1'))).toHaveLength(2);
  });
});
