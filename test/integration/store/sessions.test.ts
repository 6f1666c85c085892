import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, vi } from 'vitest';
import { sha256Base64url } from '../../../functions/core/crypto/hash.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { createSessionStore, type LoginInput } from '../../../functions/core/store/sessions.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

const route = 'https://mcp.example.com';
const clock = { t: 1_800_000_000_000, now: () => clock.t };
const store = () => createSessionStore({ ddb: db.ddb, tableName: db.tableName, records: db.records, clock });

async function raw(pk: string, sk: string) {
  const { Item } = await db.ddb.send(
    new GetCommand({ TableName: db.tableName, Key: { pk, sk }, ConsistentRead: true }),
  );
  return Item;
}

async function withoutDynamo(fn: () => Promise<void>) {
  const send = vi.spyOn(db.ddb, 'send');
  try {
    await fn();
    expect(send).not.toHaveBeenCalled();
  } finally {
    send.mockRestore();
  }
}

describe('sessions', () => {
  it('creates a session whose 256-bit id reads it back', async () => {
    const s = store();
    const { id, expiresAt } = await s.createSession({
      userId: 'sub-1',
      issuer: 'https://idp.example',
      email: 'a@example.com',
      name: 'A',
    });
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBe(clock.t + 8 * 3600 * 1000);
    expect(await s.getSession(id)).toEqual({
      userId: 'sub-1',
      issuer: 'https://idp.example',
      email: 'a@example.com',
      name: 'A',
      createdAt: clock.t,
      expiresAt,
    });
  });

  it('stores the session under the hash of its id, with a TTL, and never the id', async () => {
    const { id, expiresAt } = await store().createSession({ userId: 'sub-1', issuer: 'https://idp.example' });
    const item = await raw(`session#${sha256Base64url(id)}`, 'session');
    expect(item?.ttl).toBe(Math.ceil(expiresAt / 1000));
    expect(JSON.stringify(item)).not.toContain(id);
  });

  it('treats an expired session as absent although TTL has not removed it', async () => {
    const s = store();
    const { id, expiresAt } = await s.createSession({ userId: 'u', issuer: 'i', ttlSeconds: 60 });
    expect(expiresAt).toBe(clock.t + 60_000);
    expect(await s.getSession(id, expiresAt - 1)).toBeDefined();
    expect(await s.getSession(id, expiresAt)).toBeUndefined();
  });

  it('ends a session on delete', async () => {
    const s = store();
    const { id } = await s.createSession({ userId: 'u', issuer: 'i' });
    await s.deleteSession(id);
    expect(await s.getSession(id)).toBeUndefined();
  });

  it('answers unknown ids with undefined', async () => {
    expect(await store().getSession(randomToken())).toBeUndefined();
  });

  it.each([undefined, null, '', 'abc', `${randomToken()}x`, `${'A'.repeat(42)}B`])(
    'answers the malformed id %j without a DynamoDB call',
    async (id) => {
      await withoutDynamo(async () => {
        expect(await store().getSession(id)).toBeUndefined();
        await store().deleteSession(id);
      });
    },
  );
});

describe('login transactions', () => {
  const input = (overrides: Partial<LoginInput> = {}): LoginInput => ({
    route,
    binding: randomToken(),
    codeVerifier: randomToken(),
    nonce: randomToken(),
    returnTo: '/.pomerium/connect',
    ...overrides,
  });

  it('consumes a transaction once, for its browser and route', async () => {
    const s = store();
    const req = input();
    const { state, expiresAt } = await s.createLoginTransaction(req);
    expect(expiresAt).toBe(clock.t + 600_000);
    const first = await s.consumeLoginTransaction(state, { route, binding: req.binding });
    expect(first).toEqual({
      ok: true,
      record: {
        route,
        codeVerifier: req.codeVerifier,
        nonce: req.nonce,
        returnTo: req.returnTo,
        createdAt: clock.t,
        expiresAt,
      },
    });
    expect(await s.consumeLoginTransaction(state, { route, binding: req.binding })).toEqual({
      ok: false,
      code: 'state_unknown',
    });
  });

  it.each([
    ['state_other_browser', { binding: randomToken() }],
    ['state_other_route', { route: 'https://other.example.com' }],
  ] as const)('refuses %s and keeps the transaction for its own browser', async (code, wrong) => {
    const s = store();
    const req = input();
    const { state } = await s.createLoginTransaction(req);
    const right = { route, binding: req.binding };
    expect(await s.consumeLoginTransaction(state, { ...right, ...wrong })).toEqual({ ok: false, code });
    expect((await s.consumeLoginTransaction(state, right)).ok).toBe(true);
  });

  it('refuses an expired transaction', async () => {
    const s = createSessionStore({ ddb: db.ddb, tableName: db.tableName, records: db.records, clock, loginTtlSeconds: 5 });
    const req = input();
    const { state, expiresAt } = await s.createLoginTransaction(req);
    expect(expiresAt).toBe(clock.t + 5000);
    expect(
      await s.consumeLoginTransaction(state, { route, binding: req.binding, now: expiresAt + 1 }),
    ).toEqual({
      ok: false,
      code: 'state_expired',
    });
  });

  it('stores hashes only, under its own key kind', async () => {
    const req = input();
    const { state } = await store().createLoginTransaction(req);
    const item = await raw(`login#${sha256Base64url(state)}`, 'login');
    expect(item?.bindingHash).toBe(sha256Base64url(req.binding));
    expect(JSON.stringify(item)).not.toContain(state);
    expect(JSON.stringify(item)).not.toContain(req.binding);
    expect(await raw(`state#${sha256Base64url(state)}`, 'state')).toBeUndefined();
  });

  it('refuses malformed states without a DynamoDB call', async () => {
    await withoutDynamo(async () => {
      expect(await store().consumeLoginTransaction('nope', { route, binding: 'b' })).toEqual({
        ok: false,
        code: 'state_malformed',
      });
      expect(await store().consumeLoginTransaction(undefined, { route, binding: 'b' })).toEqual({
        ok: false,
        code: 'state_missing',
      });
    });
  });

  it('refuses a return path off the route origin', async () => {
    await expect(store().createLoginTransaction(input({ returnTo: '//evil.example/' }))).rejects.toThrow(
      TypeError,
    );
  });

  it('lets exactly one of 100 concurrent callbacks take a transaction', async () => {
    const s = store();
    const req = input();
    const { state } = await s.createLoginTransaction(req);
    const results = await Promise.all(
      Array.from({ length: 100 }, () => s.consumeLoginTransaction(state, { route, binding: req.binding })),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });
});
