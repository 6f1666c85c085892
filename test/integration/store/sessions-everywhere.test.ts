import { randomBytes } from 'node:crypto';
import { GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { sha256Base64url } from '../../../functions/core/crypto/hash.ts';
import { createRecordMac } from '../../../functions/core/store/record-mac.ts';
import { createSessionStore } from '../../../functions/core/store/sessions.ts';
import { spyOnTable, useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();
const clock = { t: 1_800_000_000_000, now: () => clock.t };
const records = createRecordMac(randomBytes(32));
const store = () => createSessionStore({ table: db.table, tableName: db.tableName, clock, records });

async function partition(userId: string) {
  const { Items } = await db.ddb.send(
    new QueryCommand({
      TableName: db.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `session#user#${sha256Base64url(userId)}` },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

describe('sign out everywhere', () => {
  it('ends every session of the person and no one else’s', async () => {
    const s = store();
    const carol = await Promise.all([1, 2, 3].map(() => s.createSession({ userId: 'carol', issuer: 'i' })));
    const dave = await s.createSession({ userId: 'dave', issuer: 'i' });
    expect(await s.deleteUserSessions('carol')).toBe(3);
    for (const { id } of carol) expect(await s.getSession(id)).toBeUndefined();
    expect(await s.getSession(dave.id)).toBeDefined();
    // Only the mark is left: when carol signed out everywhere (a later sign-in must be fresh).
    expect((await partition('carol')).map((item) => item.sk)).toEqual(['signed-out']);
    expect(await s.signedOutEverywhereAt('carol')).toBeTypeOf('number');
    expect(await s.signedOutEverywhereAt('dave')).toBeUndefined();
    expect(await s.deleteUserSessions('carol')).toBe(0);
  });

  it('indexes each session under its person with hashes only and the session’s expiry', async () => {
    const { id, expiresAt } = await store().createSession({ userId: 'erin', issuer: 'i', ttlSeconds: 60 });
    expect(await partition('erin')).toEqual([
      {
        pk: `session#user#${sha256Base64url('erin')}`,
        sk: `session#${sha256Base64url(id)}`,
        expiresAt,
        ttl: Math.ceil(expiresAt / 1000),
      },
    ]);
    expect(JSON.stringify(await partition('erin'))).not.toContain(id);
  });

  it('keeps reading a session to one GetItem (the index costs sign-in one PutItem, not every page)', async () => {
    const s = store();
    const { id } = await s.createSession({ userId: 'frank', issuer: 'i' });
    const tableCalls = spyOnTable(db.table);
    try {
      expect(await s.getSession(id)).toBeDefined();
      expect(tableCalls.count()).toBe(1);
    } finally {
      tableCalls.restore();
    }
  });

  it('deletes only session items: an index entry planted in the partition that names another record is skipped', async () => {
    const s = store();
    await s.createSession({ userId: 'grace', issuer: 'i' });
    const victim = { pk: 'session#user#someone-else', sk: 'session' };
    await db.ddb.send(new PutCommand({ TableName: db.tableName, Item: { ...victim, keep: true } }));
    for (const sk of ['session#user#someone-else', 'vault#x', 'session#not-a-hash']) {
      await db.ddb.send(
        new PutCommand({
          TableName: db.tableName,
          Item: { pk: `session#user#${sha256Base64url('grace')}`, sk },
        }),
      );
    }
    expect(await s.deleteUserSessions('grace')).toBe(1);
    const { Item } = await db.ddb.send(new GetCommand({ TableName: db.tableName, Key: victim }));
    expect(Item?.keep).toBe(true);
  });
});
