import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { vaultKey } from '../../../functions/core/store/keys.ts';
import { createLocalCipher } from '../../../functions/core/vault/cipher.ts';
import type { VaultTokens } from '../../../functions/core/vault/item.ts';
import { createVault, type VaultKey, type VaultOptions } from '../../../functions/core/vault/vault.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';
import { startTokenServer, type TokenServer } from './token-server.ts';

const db = useDynamoLocal();
let server: TokenServer;
beforeAll(async () => {
  server = await startTokenServer();
});
afterAll(async () => {
  await server?.stop();
});
beforeEach(() => {
  server.mode = 'ok';
  server.delayMs = 0;
});

/** Moves forward only; every test builds its expiries from `clock.t`. */
const clock = { t: 1_800_000_000_000, now: () => clock.t };
const vaultKeyBytes = randomBytes(32);
const vault = (options: Partial<VaultOptions> = {}) =>
  createVault({
    table: db.table,
    tableName: db.tableName,
    cipher: createLocalCipher(vaultKeyBytes),
    clock,
    ...options,
  });

let counter = 0;
const newKey = (): VaultKey => {
  counter++;
  return { route: `https://r${counter}.example.com`, user: `sub|${counter}#${randomToken(6)}` };
};

function tokens(overrides: Partial<VaultTokens> = {}): VaultTokens {
  return {
    issuer: new URL(server.tokenEndpoint).origin,
    tokenEndpoint: server.tokenEndpoint,
    revocationEndpoint: new URL('/revoke', server.tokenEndpoint).href,
    clientId: 'https://r.example.com/.well-known/mcp-client-metadata.json',
    clientAuth: { method: 'none' },
    resource: 'https://up.example.net/mcp',
    allowInsecureRequests: true,
    accessToken: `at-${randomToken(12)}`,
    refreshToken: server.issueRefreshToken(),
    idToken: `id-${randomToken(12)}`,
    expiresAt: clock.t + 3_600_000,
    scope: 'read',
    tokenType: 'bearer',
    ...overrides,
  };
}

async function rawItem(key: VaultKey) {
  const { Item } = await db.ddb.send(
    new GetCommand({ TableName: db.tableName, Key: vaultKey(key.route, key.user), ConsistentRead: true }),
  );
  return Item;
}

describe('vault storage', () => {
  it('returns a stored token that is not about to expire, without a refresh', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens();
    await v.put(key, t);
    const before = server.requests;
    expect(await v.get(key)).toEqual({
      ok: true,
      accessToken: t.accessToken,
      tokenType: 'bearer',
      expiresAt: t.expiresAt,
      scope: 'read',
    });
    expect(server.requests).toBe(before);
  });

  it('keeps every token out of the raw item and the user id out of the key', async () => {
    const key = newKey();
    const t = tokens();
    await vault().put(key, t);
    const item = await rawItem(key);
    const raw = JSON.stringify(item);
    for (const secret of [t.accessToken, t.refreshToken!, t.idToken!]) expect(raw).not.toContain(secret);
    expect(item?.pk).not.toContain(key.user);
    expect(item).toMatchObject({
      route: key.route,
      issuer: t.issuer,
      scope: 'read',
      version: 1,
      hasRefreshToken: true,
    });
  });

  it('answers not_connected for a (route, user) without an item', async () => {
    expect(await vault().get(newKey())).toEqual({ ok: false, code: 'not_connected' });
  });

  it('answers decrypt_failed when the vault key is not the one that wrote the item', async () => {
    const key = newKey();
    await vault().put(key, tokens());
    const other = createVault({
      table: db.table,
      tableName: db.tableName,
      cipher: createLocalCipher(randomBytes(32)),
      clock,
    });
    expect(await other.get(key)).toEqual({ ok: false, code: 'decrypt_failed' });
  });

  it('binds each item to its route, user and issuer: 200 blobs copied under other keys never decrypt', async () => {
    const v = vault();
    const pairs = Array.from({ length: 200 }, () => ({
      route: `https://${randomToken(6).toLowerCase().replace(/[-_]/g, 'x')}.example.org`,
      user: randomToken(9),
    }));
    const check = async (i: number) => {
      const a = pairs[i]!;
      const b = pairs[(i + 1 + Math.floor(Math.random() * (pairs.length - 1))) % pairs.length]!;
      await v.put(a, tokens());
      const item = (await rawItem(a))!;
      const targets: [string, VaultKey][] = [
        ['other route', { route: b.route, user: a.user }],
        ['other user', { route: a.route, user: b.user }],
      ];
      const outcomes: string[] = [];
      for (const [label, target] of targets) {
        await db.ddb.send(
          new PutCommand({
            TableName: db.tableName,
            Item: { ...item, ...vaultKey(target.route, target.user) },
          }),
        );
        const got = await v.get(target);
        outcomes.push(`${label}: ${got.ok ? 'DECRYPTED' : got.code}`);
      }
      // The same blob with its clear issuer attribute changed must not open either.
      await db.ddb.send(
        new PutCommand({
          TableName: db.tableName,
          Item: { ...item, issuer: 'https://other-issuer.example' },
        }),
      );
      const moved = await v.get(a);
      outcomes.push(`other issuer: ${moved.ok ? 'DECRYPTED' : moved.code}`);
      return outcomes;
    };
    const outcomes: string[] = [];
    for (let i = 0; i < pairs.length; i += 50) {
      const batch = await Promise.all(pairs.slice(i, i + 50).map((_, j) => check(i + j)));
      outcomes.push(...batch.flat());
    }
    expect(outcomes).toHaveLength(600);
    expect(outcomes.filter((o) => !o.endsWith('decrypt_failed'))).toEqual([]);
  });

  it('replaces an item on reconnect: new version, stale optional metadata removed', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens());
    const { revocationEndpoint: _r, scope: _s, ...rest } = tokens();
    await v.put(key, rest);
    const item = await rawItem(key);
    expect(item?.version).toBe(2);
    expect(item).not.toHaveProperty('revocationEndpoint');
    expect(item).not.toHaveProperty('scope');
  });

  it('lists a user’s connections by route, with scope and expiry but no token', async () => {
    const v = vault();
    const user = `sub-${randomToken(6)}`;
    const stored = ['https://b.example.com', 'https://a.example.com', 'https://c.example.com:8443'].map(
      (route) => ({
        route,
        t: tokens({ scope: `scope-${route.length}` }),
      }),
    );
    for (const { route, t } of stored) await v.put({ route, user }, t);
    await v.put({ route: 'https://a.example.com', user: `${user}-other` }, tokens());
    const list = await v.list(user);
    expect(list.map((c) => c.route)).toEqual([
      'https://a.example.com',
      'https://b.example.com',
      'https://c.example.com:8443',
    ]);
    expect(list[0]).toEqual({
      route: 'https://a.example.com',
      issuer: new URL(server.tokenEndpoint).origin,
      scope: 'scope-21',
      expiresAt: stored[1]!.t.expiresAt,
      updatedAt: clock.t,
      hasRefreshToken: true,
    });
    const raw = JSON.stringify(list);
    for (const { t } of stored) expect(raw).not.toContain(t.accessToken);
    expect(await v.list('nobody')).toEqual([]);
  });

  it('deletes an item and hands back what revocation needs', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens();
    await v.put(key, t);
    expect(await v.delete(key)).toEqual({
      route: key.route,
      issuer: t.issuer,
      tokenEndpoint: t.tokenEndpoint,
      revocationEndpoint: t.revocationEndpoint,
      clientId: t.clientId,
      clientAuth: { method: 'none' },
      resource: t.resource,
      allowInsecureRequests: true,
      expiresAt: t.expiresAt,
      scope: 'read',
      tokenType: 'bearer',
      accessToken: t.accessToken,
      refreshToken: t.refreshToken,
    });
    expect(await v.delete(key)).toBeUndefined();
    expect(await v.get(key)).toEqual({ ok: false, code: 'not_connected' });
  });
});

describe('vault refresh', () => {
  it('refreshes an expiring token once, sending client_id and resource, and persists the rotation', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens({ expiresAt: clock.t + 30_000 });
    await v.put(key, t);
    const before = server.requests;
    const first = await v.get(key);
    expect(server.requests).toBe(before + 1);
    expect(first).toMatchObject({ ok: true, scope: 'read write', expiresAt: clock.t + 3_600_000 });
    if (!first.ok) return;
    expect(first.accessToken).not.toBe(t.accessToken);
    const sent = server.bodies.at(-1)!;
    expect(sent.get('refresh_token')).toBe(t.refreshToken);
    expect(sent.get('client_id')).toBe(t.clientId);
    expect(sent.get('resource')).toBe(t.resource);
    expect(await rawItem(key)).toMatchObject({ version: 2, expiresAt: clock.t + 3_600_000 });
    expect(await rawItem(key)).not.toHaveProperty('leaseUntil');
    // The old refresh token was rotated away at the server: a second refresh only works if the
    // new one was stored.
    clock.t += 3_600_000;
    const second = await v.get(key);
    expect(second.ok).toBe(true);
    expect(server.bodies.at(-1)!.get('refresh_token')).not.toBe(t.refreshToken);
    expect(server.requests).toBe(before + 2);
  });

  it('keeps the refresh token when the server does not rotate it', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens({ expiresAt: clock.t - 1 });
    await v.put(key, t);
    server.mode = 'no_rotation';
    expect((await v.get(key)).ok).toBe(true);
    clock.t += 3_600_000;
    expect((await v.get(key)).ok).toBe(true);
    expect(server.bodies.at(-1)!.get('refresh_token')).toBe(t.refreshToken);
  });

  it('sends one refresh request for 50 concurrent callers of an expiring token', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens({ expiresAt: clock.t + 20_000 });
    await v.put(key, t);
    server.delayMs = 150;
    const before = server.requests;
    const results = await Promise.all(Array.from({ length: 50 }, () => v.get(key)));
    expect(server.requests - before).toBe(1);
    expect(results.every((r) => r.ok)).toBe(true);
    const issued = new Set(results.map((r) => (r.ok ? r.accessToken : '')));
    expect(issued.size).toBe(1);
    expect(issued.has(t.accessToken)).toBe(false);
    expect((await rawItem(key))?.version).toBe(2);
  });

  it('sends one refresh request for 50 concurrent callers of an already expired token', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1000 }));
    server.delayMs = 150;
    const before = server.requests;
    const results = await Promise.all(Array.from({ length: 50 }, () => v.get(key)));
    expect(server.requests - before).toBe(1);
    expect(new Set(results.map((r) => (r.ok ? r.accessToken : r.code))).size).toBe(1);
  });

  it('removes the item on invalid_grant and asks for reauthorization', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t + 10_000, refreshToken: 'rt-unknown-to-the-server' }));
    expect(await v.get(key)).toEqual({ ok: false, code: 'reauthorization_required' });
    expect(await rawItem(key)).toBeUndefined();
    expect(await v.get(key)).toEqual({ ok: false, code: 'not_connected' });
  });

  it('keeps the item on a 5xx: the old token while it lasts, then upstream_unavailable, then recovers', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens({ expiresAt: clock.t + 30_000 });
    await v.put(key, t);
    server.mode = 'server_error';
    expect(await v.get(key)).toMatchObject({ ok: true, accessToken: t.accessToken });
    const kept = await rawItem(key);
    expect(kept).toMatchObject({ version: 1, refreshError: 'upstream_unavailable' });
    expect(kept).not.toHaveProperty('leaseUntil');
    clock.t += 31_000;
    expect(await v.get(key)).toEqual({ ok: false, code: 'upstream_unavailable' });
    expect(await rawItem(key)).toBeDefined();
    server.mode = 'ok';
    expect((await v.get(key)).ok).toBe(true);
    expect(await rawItem(key)).not.toHaveProperty('refreshError');
  });

  it('lets concurrent callers share one failed refresh instead of retrying it each', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1 }));
    server.mode = 'server_error';
    server.delayMs = 100;
    const before = server.requests;
    const results = await Promise.all(Array.from({ length: 20 }, () => v.get(key)));
    expect(server.requests - before).toBe(1);
    expect(results.every((r) => !r.ok && r.code === 'upstream_unavailable')).toBe(true);
  });

  it('treats an unreachable token endpoint like a 5xx', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens({
      expiresAt: clock.t + 30_000,
      tokenEndpoint: `http://127.0.0.1:${await freePort()}/token`,
    });
    await v.put(key, t);
    expect(await v.get(key)).toMatchObject({ ok: true, accessToken: t.accessToken });
    expect(await rawItem(key)).toBeDefined();
  });

  it('keeps the item on other refusals such as invalid_client, and asks for reauthorization once expired', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1 }));
    server.mode = 'invalid_client';
    expect(await v.get(key)).toEqual({ ok: false, code: 'reauthorization_required' });
    expect(await rawItem(key)).toMatchObject({ refreshError: 'reauthorization_required' });
  });

  // Regression (issue 9): connect refused non-Bearer tokens but a refresh stored them.
  it('refuses a refresh answer with a non-Bearer token type, like connect, and keeps nothing of it', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1 }));
    server.mode = 'dpop_token';
    expect(await v.get(key)).toEqual({ ok: false, code: 'reauthorization_required' });
    expect(await rawItem(key)).toMatchObject({ refreshError: 'reauthorization_required' });
    server.mode = 'ok';
  });

  it('never sends a refresh over plain http unless the item opted in', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1, allowInsecureRequests: undefined }));
    const before = server.requests;
    expect(await v.get(key)).toEqual({ ok: false, code: 'upstream_unavailable' });
    expect(server.requests).toBe(before);
  });

  it('lets a reconnect during a refresh win over the refresh result', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t + 10_000 }));
    server.delayMs = 300;
    const refreshing = v.get(key);
    await new Promise((r) => setTimeout(r, 100));
    const reconnected = tokens();
    await v.put(key, reconnected);
    expect((await refreshing).ok).toBe(true);
    expect(await v.get(key)).toMatchObject({ ok: true, accessToken: reconnected.accessToken });
    const item = await rawItem(key);
    expect(item?.version).toBe(2);
    expect(item).not.toHaveProperty('leaseId');
  });

  it('takes over a lease whose holder vanished', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1 }));
    await db.ddb.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: vaultKey(key.route, key.user),
        UpdateExpression: 'SET leaseUntil = :until, leaseId = :ghost',
        ExpressionAttributeValues: { ':until': clock.t - 1, ':ghost': 'ghost' },
      }),
    );
    const before = server.requests;
    expect((await v.get(key)).ok).toBe(true);
    expect(server.requests).toBe(before + 1);
  });

  it('waits on a live lease and takes it over once it lapses', async () => {
    const v = vault();
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1 }));
    await db.ddb.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: vaultKey(key.route, key.user),
        UpdateExpression: 'SET leaseUntil = :until, leaseId = :ghost',
        ExpressionAttributeValues: { ':until': clock.t + 15_000, ':ghost': 'ghost' },
      }),
    );
    const before = server.requests;
    const pending = v.get(key);
    await new Promise((r) => setTimeout(r, 300));
    expect(server.requests).toBe(before);
    clock.t += 16_000;
    expect((await pending).ok).toBe(true);
    expect(server.requests).toBe(before + 1);
  });

  it('gives up waiting on a lease after one lease period', async () => {
    const v = vault({ leaseSeconds: 1, refreshTimeoutMs: 500 });
    const key = newKey();
    await v.put(key, tokens({ expiresAt: clock.t - 1 }));
    await db.ddb.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: vaultKey(key.route, key.user),
        UpdateExpression: 'SET leaseUntil = :until, leaseId = :ghost',
        ExpressionAttributeValues: { ':until': clock.t + 60_000, ':ghost': 'ghost' },
      }),
    );
    const started = performance.now();
    expect(await v.get(key)).toEqual({ ok: false, code: 'upstream_unavailable' });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('refreshes a token the upstream rejected, once for all callers that saw it rejected', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens();
    await v.put(key, t);
    server.delayMs = 100;
    const before = server.requests;
    const [a, b] = await Promise.all([
      v.get(key, { rejectedAccessToken: t.accessToken }),
      v.get(key, { rejectedAccessToken: t.accessToken }),
    ]);
    expect(server.requests).toBe(before + 1);
    expect(a.ok && b.ok && a.accessToken === b.accessToken && a.accessToken !== t.accessToken).toBe(true);
    expect(await v.get(key, { rejectedAccessToken: t.accessToken })).toEqual(a);
    expect(server.requests).toBe(before + 1);
  });

  it('without a refresh token: the token while valid, then reauthorization_required', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens({ expiresAt: clock.t + 30_000, refreshToken: undefined });
    await v.put(key, t);
    const before = server.requests;
    expect(await v.get(key)).toMatchObject({ ok: true, accessToken: t.accessToken });
    clock.t += 30_000;
    expect(await v.get(key)).toEqual({ ok: false, code: 'reauthorization_required' });
    expect(server.requests).toBe(before);
  });

  it('never refreshes a token without a known expiry', async () => {
    const v = vault();
    const key = newKey();
    const t = tokens({ expiresAt: undefined });
    await v.put(key, t);
    const before = server.requests;
    expect(await v.get(key)).toEqual({
      ok: true,
      accessToken: t.accessToken,
      tokenType: 'bearer',
      scope: 'read',
    });
    expect(server.requests).toBe(before);
  });
});
