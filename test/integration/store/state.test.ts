import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { sha256Base64url } from '../../../functions/core/crypto/hash.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { createStateStore, type StateInput } from '../../../functions/core/store/state.ts';
import { spyOnTable, useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

const route = 'https://mcp.example.com';
const clock = { t: 1_800_000_000_000, now: () => clock.t };

function input(overrides: Partial<StateInput> = {}): StateInput {
  return {
    route,
    userId: 'user-1',
    binding: randomToken(),
    codeVerifier: randomToken(),
    issuer: 'https://as.example.net',
    authorizationEndpoint: 'https://as.example.net/authorize',
    tokenEndpoint: 'https://as.example.net/token',
    redirectUri: `${route}/.pomerium/oauth/callback`,
    resource: 'https://up.example.net/mcp',
    clientId: `${route}/.well-known/mcp-client-metadata.json`,
    clientAuth: { method: 'none' },
    scopes: ['read', 'write'],
    returnTo: '/.pomerium/connections?x=1',
    resume: { kind: 'mcp-authorize', pending: { clientId: 'https://c.example/cimd', scopes: ['a'], n: 1 } },
    ...overrides,
  };
}

const store = () =>
  createStateStore({ table: db.table, tableName: db.tableName, records: db.records, clock });

async function rawItem(state: string) {
  const { Item } = await db.ddb.send(
    new GetCommand({
      TableName: db.tableName,
      Key: { pk: `state#${sha256Base64url(state)}`, sk: 'state' },
      ConsistentRead: true,
    }),
  );
  return Item;
}

describe('state records', () => {
  it('creates a 256-bit state and consumes it once, returning everything but the binding', async () => {
    const s = store();
    const req = input();
    const { state, expiresAt } = await s.createState(req);
    expect(state).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt).toBe(clock.t + 600_000);
    const result = await s.consumeState(state, { route, userId: 'user-1', binding: req.binding });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { binding: _binding, ...rest } = req;
    expect(result.record).toEqual({ ...rest, createdAt: clock.t, expiresAt });
    expect(result.record).not.toHaveProperty('binding');
  });

  it('refuses a replay as state_unknown: the first consume removed it', async () => {
    const s = store();
    const req = input();
    const { state } = await s.createState(req);
    const expected = { route, userId: 'user-1', binding: req.binding };
    expect((await s.consumeState(state, expected)).ok).toBe(true);
    expect(await s.consumeState(state, expected)).toEqual({ ok: false, code: 'state_unknown' });
    expect(await rawItem(state)).toBeUndefined();
  });

  it.each([
    ['state_other_browser', { binding: randomToken() }],
    ['state_other_user', { userId: 'user-2' }],
    ['state_other_route', { route: 'https://other.example.com' }],
  ] as const)('refuses %s and leaves the record for the rightful caller', async (code, wrong) => {
    const s = store();
    const req = input();
    const { state } = await s.createState(req);
    const right = { route, userId: 'user-1', binding: req.binding };
    expect(await s.consumeState(state, { ...right, ...wrong })).toEqual({ ok: false, code });
    expect(await rawItem(state)).toBeDefined();
    expect((await s.consumeState(state, right)).ok).toBe(true);
  });

  it('refuses a caller without the binding cookie as another browser, without a DynamoDB call', async () => {
    const s = store();
    const req = input();
    const { state } = await s.createState(req);
    const tableCalls = spyOnTable(db.table);
    try {
      expect(await s.consumeState(state, { route, userId: 'user-1', binding: '' })).toEqual({
        ok: false,
        code: 'state_other_browser',
      });
      expect(tableCalls.count()).toBe(0);
    } finally {
      tableCalls.restore();
    }
  });

  it('refuses an expired record although DynamoDB TTL has not removed it yet', async () => {
    const s = store();
    const req = input();
    const { state, expiresAt } = await s.createState(req);
    const item = await rawItem(state);
    expect(item?.ttl).toBe(Math.ceil(expiresAt / 1000));
    const right = { route, userId: 'user-1', binding: req.binding };
    expect(await s.consumeState(state, { ...right, now: expiresAt })).toEqual({
      ok: false,
      code: 'state_expired',
    });
    const saved = clock.t;
    clock.t = expiresAt + 1;
    try {
      expect(await s.consumeState(state, right)).toEqual({ ok: false, code: 'state_expired' });
    } finally {
      clock.t = saved;
    }
    expect(await rawItem(state)).toBeDefined();
  });

  it('takes its lifetime from ttlSeconds', async () => {
    const s = createStateStore({
      table: db.table,
      tableName: db.tableName,
      records: db.records,
      clock,
      ttlSeconds: 30,
    });
    const { expiresAt } = await s.createState(input());
    expect(expiresAt).toBe(clock.t + 30_000);
  });

  it.each([
    [undefined, 'state_missing'],
    [null, 'state_missing'],
    ['', 'state_missing'],
    ['abc', 'state_malformed'],
    ['A'.repeat(44), 'state_malformed'],
    [`${'A'.repeat(42)}+`, 'state_malformed'],
    [`${'A'.repeat(42)}=`, 'state_malformed'],
    [`${'A'.repeat(42)}B`, 'state_malformed'], // non-canonical: low bits of the last character set
    [` ${'A'.repeat(42)}`, 'state_malformed'],
  ] as const)('refuses %j as %s without a DynamoDB call', async (value, code) => {
    const s = store();
    const tableCalls = spyOnTable(db.table);
    try {
      expect(await s.consumeState(value, { route, userId: 'user-1', binding: 'b' })).toEqual({
        ok: false,
        code,
      });
      expect(tableCalls.count()).toBe(0);
    } finally {
      tableCalls.restore();
    }
  });

  it('refuses a well-formed forged state as state_unknown', async () => {
    expect(await store().consumeState(randomToken(), { route, userId: 'user-1', binding: 'b' })).toEqual({
      ok: false,
      code: 'state_unknown',
    });
  });

  it('stores only hashes of the state and the binding cookie', async () => {
    const req = input();
    const { state } = await store().createState(req);
    const item = await rawItem(state);
    expect(item?.pk).toBe(`state#${sha256Base64url(state)}`);
    expect(item?.bindingHash).toBe(sha256Base64url(req.binding));
    const raw = JSON.stringify(item);
    expect(raw).not.toContain(state);
    expect(raw).not.toContain(req.binding);
  });

  it('refuses a return path off the route origin', async () => {
    for (const returnTo of ['https://evil.example/x', '//evil.example/x', '/\\evil.example', 'x']) {
      await expect(store().createState(input({ returnTo }))).rejects.toThrow(TypeError);
    }
  });

  it('lets exactly one of 100 concurrent consumers take a state', async () => {
    const s = store();
    const req = input();
    const { state } = await s.createState(req);
    const expected = { route, userId: 'user-1', binding: req.binding };
    const results = await Promise.all(Array.from({ length: 100 }, () => s.consumeState(state, expected)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok && r.code === 'state_unknown')).toHaveLength(99);
  });
});
