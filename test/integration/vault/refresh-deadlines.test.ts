import { randomBytes } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { vaultKey } from '../../../functions/core/store/keys.ts';
import type { Table } from '../../../functions/core/store/table.ts';
import { type Cipher, createLocalCipher } from '../../../functions/core/vault/cipher.ts';
import type { VaultTokens } from '../../../functions/core/vault/item.ts';
import { createVault, type VaultKey, type VaultOptions } from '../../../functions/core/vault/vault.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';
import { startTokenServer, type TokenServer } from './token-server.ts';

/**
 * Issue 9 item 4: the refresh lease covers the whole refresh — the client secret lookup (Secrets
 * Manager), the request, and storing the answer (KMS, table) — so a slow dependency never lets a
 * second caller spend the same rotating refresh token, and never holds a caller past the lease.
 * Real time, real DynamoDB Local, a real token endpoint that rotates refresh tokens (a second use
 * of one is `invalid_grant`, which would cost the person their connection).
 */
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const key = (): VaultKey => ({
  route: `https://r-${randomToken(6)}.example.com`,
  user: `sub|${randomToken(6)}`,
});
const cipherKey = randomBytes(32);

function expiredTokens(overrides: Partial<VaultTokens> = {}): VaultTokens {
  return {
    issuer: new URL(server.tokenEndpoint).origin,
    tokenEndpoint: server.tokenEndpoint,
    clientId: 'https://r.example.com/.well-known/mcp-client-metadata.json',
    clientAuth: { method: 'none' },
    allowInsecureRequests: true,
    accessToken: `at-${randomToken(12)}`,
    refreshToken: server.issueRefreshToken(),
    expiresAt: Date.now() - 1,
    tokenType: 'bearer',
    ...overrides,
  };
}

/** A cipher whose encryptions take `delayMs` once armed (KMS GenerateDataKey being slow). */
function slowCipher(delayMs: { value: number }): Cipher {
  const inner = createLocalCipher(cipherKey);
  return {
    encrypt: async (plaintext, context) => {
      await sleep(delayMs.value);
      return inner.encrypt(plaintext, context);
    },
    decrypt: (blob, context) => inner.decrypt(blob, context),
  };
}

/** The table with every UpdateItem on the vault held `delayMs` first (leases and writes of tokens). */
function slowTable(delayMs: { value: number }): Table {
  const real = db.table;
  return {
    ...real,
    async update(input, options) {
      if (delayMs.value > 0) await sleep(delayMs.value);
      return real.update(input, options);
    },
  };
}

const vault = (options: Partial<VaultOptions> = {}) =>
  createVault({
    table: db.table,
    tableName: db.tableName,
    cipher: createLocalCipher(cipherKey),
    leaseSeconds: 1,
    ...options,
  });

async function stored(k: VaultKey) {
  const { Item } = await db.ddb.send(
    new GetCommand({ TableName: db.tableName, Key: vaultKey(k.route, k.user), ConsistentRead: true }),
  );
  return Item;
}

describe('the refresh lease covers the whole refresh', () => {
  it('renews the lease while a slow KMS stores the answer: one refresh grant for all callers, connection kept', async () => {
    // 1.2 s at the token endpoint + 3 s to seal the answer: past a 4 s lease without renewal, when
    // the waiting callers would take the lease over and spend the same refresh token again.
    const delay = { value: 0 };
    const k = key();
    await vault().put(k, expiredTokens());
    delay.value = 3_000;
    server.delayMs = 1_200;
    const v = vault({ cipher: slowCipher(delay), leaseSeconds: 4 });
    const before = server.requests;
    const first = v.get(k);
    await sleep(50);
    const others = Promise.all([1, 2, 3].map(() => v.get(k)));
    const [a, rest] = await Promise.all([first, others]);
    expect(server.requests - before).toBe(1);
    expect(a.ok).toBe(true);
    for (const r of rest) expect(r).toEqual(a);
    // Stored, not lost: the next call uses it without a refresh.
    delay.value = 0;
    expect(await vault().get(k)).toEqual(a);
    expect(server.requests - before).toBe(1);
  });

  it('does not spend the refresh token when the client secret arrives too late for the lease', async () => {
    const k = key();
    await vault().put(
      k,
      expiredTokens({ clientAuth: { method: 'client_secret_post' }, expiresAt: Date.now() + 5_000 }),
    );
    const slow = { value: 2_000 };
    const v = vault({
      refreshSkewSeconds: 60,
      clientSecret: async () => {
        await sleep(slow.value);
        return 'the-client-secret';
      },
    });
    const before = server.requests;
    const started = performance.now();
    // The stored token is still valid for a few seconds: callers get it, the refresh waits.
    const answer = await v.get(k);
    expect(answer.ok).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_500);
    await sleep(2_500); // the abandoned secret lookup finishes; it must not send anything now
    expect(server.requests - before).toBe(0);
    // The connection is intact: with a prompt secret the next caller refreshes once.
    slow.value = 0;
    const refreshed = await v.get(k);
    expect(refreshed.ok && refreshed.accessToken !== (answer.ok && answer.accessToken)).toBe(true);
    expect(server.requests - before).toBe(1);
    expect(server.bodies.at(-1)?.get('client_secret')).toBe('the-client-secret');
  });

  it('does not start a refresh a slow table leaves no time for, and answers within the lease', async () => {
    const delay = { value: 0 };
    const k = key();
    await vault().put(k, expiredTokens());
    delay.value = 700; // taking the lease alone uses 700 ms of its 1 s
    const v = vault({ table: slowTable(delay) });
    const before = server.requests;
    const started = performance.now();
    expect(await v.get(k)).toEqual({ ok: false, code: 'upstream_unavailable' });
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(server.requests - before).toBe(0);
    await sleep(1_200); // whatever the slow table still does lands; the item must be intact
    expect(await stored(k)).toMatchObject({ hasRefreshToken: true });
    delay.value = 0;
    expect((await v.get(k)).ok).toBe(true);
    expect(server.requests - before).toBe(1);
  });

  it('keeps one refresh grant for concurrent callers when the table is slow but the lease suffices', async () => {
    const delay = { value: 0 };
    const k = key();
    await vault().put(k, expiredTokens());
    delay.value = 150;
    const v = vault({ table: slowTable(delay), leaseSeconds: 2 });
    const before = server.requests;
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => v.get(k)));
    expect(server.requests - before).toBe(1);
    const first = answers[0]!;
    expect(first.ok).toBe(true);
    for (const a of answers) expect(a).toEqual(first);
  });
});
