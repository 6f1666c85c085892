import { describe, expect, it } from 'vitest';
import { createUpstreamTokens } from '../../../functions/core/proxy/upstream-tokens.ts';
import type { Vault, VaultGetResult, VaultKey } from '../../../functions/core/vault/vault.ts';

const A = 'https://a.example.com';
const B = 'https://b.example.com';
const MINUTE = 60_000;

/** A stand-in vault: records every call and answers from a per-key script. */
function standInVault(start = 1_000_000) {
  let time = start;
  let serial = 0;
  const calls: { key: VaultKey; rejectedAccessToken?: string }[] = [];
  const answers = new Map<string, () => VaultGetResult | Promise<VaultGetResult>>();
  const vault: Pick<Vault, 'get'> = {
    async get(key, options = {}) {
      calls.push({
        key,
        ...(options.rejectedAccessToken ? { rejectedAccessToken: options.rejectedAccessToken } : {}),
      });
      const answer = answers.get(`${key.route} ${key.user}`);
      if (answer) return answer();
      return { ok: true, accessToken: `token-${++serial}`, tokenType: 'Bearer', expiresAt: time + 3600_000 };
    },
  };
  return {
    vault,
    calls,
    answers,
    now: () => time,
    advance(ms: number) {
      time += ms;
    },
  };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('createUpstreamTokens', () => {
  it('answers a warm call from memory, without a vault call', async () => {
    const v = standInVault();
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    const first = await tokens.get(A, 'alice');
    v.advance(30_000);
    const second = await tokens.get(A, 'alice');
    expect(second).toEqual(first);
    expect(v.calls).toHaveLength(1);
  });

  it('keeps routes and people apart', async () => {
    const v = standInVault();
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    const a = await tokens.get(A, 'alice');
    const b = await tokens.get(B, 'alice');
    const bob = await tokens.get(A, 'bob');
    expect(new Set([a, b, bob].map((r) => r.ok && r.accessToken)).size).toBe(3);
    expect(v.calls.map((c) => c.key)).toEqual([
      { route: A, user: 'alice' },
      { route: B, user: 'alice' },
      { route: A, user: 'bob' },
    ]);
  });

  it('asks the vault again once a minute has passed since the last check (a disconnect is seen)', async () => {
    const v = standInVault();
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    await tokens.get(A, 'alice');
    v.advance(MINUTE - 1);
    await tokens.get(A, 'alice');
    expect(v.calls).toHaveLength(1);
    v.advance(1);
    v.answers.set(`${A} alice`, () => ({ ok: false, code: 'not_connected' }));
    expect(await tokens.get(A, 'alice')).toEqual({ ok: false, code: 'not_connected' });
    expect(v.calls).toHaveLength(2);
  });

  it('asks the vault (which refreshes) when the token expires within the refresh skew', async () => {
    const v = standInVault();
    v.answers.set(`${A} alice`, () => ({
      ok: true,
      accessToken: 'short',
      tokenType: 'Bearer',
      expiresAt: v.now() + 90_000,
    }));
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    await tokens.get(A, 'alice');
    v.advance(29_999); // 60 001 ms left: outside the 60 s skew
    await tokens.get(A, 'alice');
    expect(v.calls).toHaveLength(1);
    v.advance(1); // 60 000 ms left: inside it
    await tokens.get(A, 'alice');
    expect(v.calls).toHaveLength(2);
  });

  it('keeps a token without an expiry until the recheck', async () => {
    const v = standInVault();
    v.answers.set(`${A} alice`, () => ({ ok: true, accessToken: 'forever', tokenType: 'Bearer' }));
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    await tokens.get(A, 'alice');
    v.advance(59_000);
    await tokens.get(A, 'alice');
    expect(v.calls).toHaveLength(1);
  });

  it('shares one vault call among concurrent misses for the same route and person', async () => {
    const v = standInVault();
    const gate = deferred<VaultGetResult>();
    v.answers.set(`${A} alice`, () => gate.promise);
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    const all = Promise.all(Array.from({ length: 8 }, () => tokens.get(A, 'alice')));
    gate.resolve({ ok: true, accessToken: 'shared', tokenType: 'Bearer' });
    const results = await all;
    expect(v.calls).toHaveLength(1);
    expect(results.every((r) => r.ok && r.accessToken === 'shared')).toBe(true);
  });

  it('asks the vault with rejectedAccessToken when the upstream refused the token, and keeps the new one', async () => {
    const v = standInVault();
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    const first = await tokens.get(A, 'alice');
    const stale = first.ok ? first.accessToken : '';
    const refreshed = await tokens.get(A, 'alice', { rejected: stale });
    expect(v.calls.at(-1)).toEqual({ key: { route: A, user: 'alice' }, rejectedAccessToken: stale });
    expect(refreshed.ok && refreshed.accessToken).not.toBe(stale);
    expect(await tokens.get(A, 'alice')).toEqual(refreshed);
    expect(v.calls).toHaveLength(2);
  });

  it('does not share an in-flight plain read with a rejected-token call (that one must refresh)', async () => {
    const v = standInVault();
    const gate = deferred<VaultGetResult>();
    v.answers.set(`${A} alice`, () => gate.promise);
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    const plain = tokens.get(A, 'alice');
    const rejected = tokens.get(A, 'alice', { rejected: 'old' });
    gate.resolve({ ok: true, accessToken: 'new', tokenType: 'Bearer' });
    await Promise.all([plain, rejected]);
    expect(v.calls).toEqual([
      { key: { route: A, user: 'alice' } },
      { key: { route: A, user: 'alice' }, rejectedAccessToken: 'old' },
    ]);
  });

  it('answers from memory when the rejected token was already replaced by another request', async () => {
    const v = standInVault();
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    await tokens.get(A, 'alice');
    const current = await tokens.get(A, 'alice', { rejected: 'token-1' });
    expect(v.calls).toHaveLength(2);
    // A second request that was refused with the same old token: the cache already has a newer one.
    expect(await tokens.get(A, 'alice', { rejected: 'token-1' })).toEqual(current);
    expect(v.calls).toHaveLength(2);
  });

  it('does not keep failures: the next call asks the vault again', async () => {
    const v = standInVault();
    v.answers.set(`${A} alice`, () => ({ ok: false, code: 'upstream_unavailable' }));
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    await tokens.get(A, 'alice');
    await tokens.get(A, 'alice');
    expect(v.calls).toHaveLength(2);
  });

  it('forgets a route and person on request', async () => {
    const v = standInVault();
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now });
    await tokens.get(A, 'alice');
    tokens.forget(A, 'alice');
    await tokens.get(A, 'alice');
    expect(v.calls).toHaveLength(2);
  });

  it('keeps at most maxEntries, dropping the least recently used first', async () => {
    const v = standInVault();
    const tokens = createUpstreamTokens({ vault: v.vault, now: v.now, maxEntries: 2 });
    await tokens.get(A, 'alice');
    await tokens.get(A, 'bob');
    await tokens.get(A, 'alice'); // alice is now the most recently used
    await tokens.get(A, 'carol'); // evicts bob
    expect(v.calls).toHaveLength(3);
    await tokens.get(A, 'alice');
    await tokens.get(A, 'carol');
    expect(v.calls).toHaveLength(3);
    await tokens.get(A, 'bob');
    expect(v.calls).toHaveLength(4);
  });
});
