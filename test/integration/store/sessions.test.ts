import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { sha256Base64url } from '../../../functions/core/crypto/hash.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { createSessionStore } from '../../../functions/core/store/sessions.ts';
import { spyOnTable, useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

const clock = { t: 1_800_000_000_000, now: () => clock.t };
const store = () =>
  createSessionStore({ table: db.table, tableName: db.tableName, records: db.records, clock });

async function raw(pk: string, sk: string) {
  const { Item } = await db.ddb.send(
    new GetCommand({ TableName: db.tableName, Key: { pk, sk }, ConsistentRead: true }),
  );
  return Item;
}

async function withoutDynamo(fn: () => Promise<void>) {
  const tableCalls = spyOnTable(db.table);
  try {
    await fn();
    expect(tableCalls.count()).toBe(0);
  } finally {
    tableCalls.restore();
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
