import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createFetchTable } from '../../../functions/adapters/fetch-table.ts';
import { isConditionFailure } from '../../../functions/core/store/keys.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

/**
 * The proxy's signed-fetch table (functions/adapters/fetch-table.ts) against the real DynamoDB
 * Local engine: every operation the stores use, and the same stored form as the SDK's
 * DocumentClient (the other functions), checked by writing with one and reading with the other.
 */
const db = useDynamoLocal();

/** DynamoDB Local keeps one database per access key and region: the fixture client's ('local', 'local'). */
const table = () =>
  createFetchTable({
    env: {
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_ENDPOINT_URL_DYNAMODB: db.local.endpoint,
    },
  });

/** Every kind of value the stores write. */
const sample = {
  text: 'héllo ✓',
  empty: '',
  integer: 42,
  negative: -7,
  fraction: 0.125,
  largest: Number.MAX_SAFE_INTEGER,
  yes: true,
  no: false,
  nothing: null,
  bytes: new Uint8Array([0, 1, 2, 253, 254, 255]),
  list: [1, 'two', { three: 3 }, [false]],
  map: { nested: { deeper: { n: 1.5, s: 's', l: [] } }, flag: true },
  tags: new Set(['a', 'b']),
  counts: new Set([1, 2.5]),
  blobs: new Set([new Uint8Array([1]), new Uint8Array([2, 3])]),
};

describe('the signed-fetch table on DynamoDB Local', () => {
  it('puts and gets every kind of value, leaving undefined ones out', async () => {
    const key = { pk: 'fetch#round-trip', sk: 'item' };
    await table().put({
      TableName: db.tableName,
      Item: { ...key, ...sample, gone: undefined, map: { ...sample.map, alsoGone: undefined } },
    });
    const { Item } = await table().get({ TableName: db.tableName, Key: key, ConsistentRead: true });
    expect(Item).toEqual({ ...key, ...sample });
    expect(Item).not.toHaveProperty('gone');
    expect(Item?.map).not.toHaveProperty('alsoGone');
    expect(Item?.bytes).toBeInstanceOf(Uint8Array);
    expect(typeof Item?.largest).toBe('number');
  });

  it('stores what the SDK’s DocumentClient reads, and reads what it writes', async () => {
    const mine = { pk: 'fetch#agree', sk: 'written-by-fetch' };
    await table().put({ TableName: db.tableName, Item: { ...mine, ...sample } });
    const bySdk = await db.ddb.send(
      new GetCommand({ TableName: db.tableName, Key: mine, ConsistentRead: true }),
    );
    expect(bySdk.Item).toEqual({ ...mine, ...sample });

    const theirs = { pk: 'fetch#agree', sk: 'written-by-sdk' };
    await db.ddb.send(new PutCommand({ TableName: db.tableName, Item: { ...theirs, ...sample } }));
    const byFetch = await table().get({ TableName: db.tableName, Key: theirs, ConsistentRead: true });
    expect(byFetch.Item).toEqual({ ...theirs, ...sample });
  });

  it('returns the old item from put and delete, and the new or old one from update', async () => {
    const key = { pk: 'fetch#returns', sk: 'item' };
    const first = await table().put({
      TableName: db.tableName,
      Item: { ...key, n: 1 },
      ReturnValues: 'ALL_OLD',
    });
    expect(first.Attributes).toBeUndefined();
    const second = await table().put({
      TableName: db.tableName,
      Item: { ...key, n: 2, label: 'two' },
      ReturnValues: 'ALL_OLD',
    });
    expect(second.Attributes).toEqual({ ...key, n: 1 });

    const updated = await table().update({
      TableName: db.tableName,
      Key: key,
      UpdateExpression: 'SET #n = #n + :one, #list = :list',
      ExpressionAttributeNames: { '#n': 'n', '#list': 'list' },
      ExpressionAttributeValues: { ':one': 1, ':list': ['x', { y: new Uint8Array([9]) }] },
      ReturnValues: 'ALL_NEW',
    });
    expect(updated.Attributes).toEqual({
      ...key,
      n: 3,
      label: 'two',
      list: ['x', { y: new Uint8Array([9]) }],
    });

    const before = await table().update({
      TableName: db.tableName,
      Key: key,
      UpdateExpression: 'REMOVE #label',
      ExpressionAttributeNames: { '#label': 'label' },
      ReturnValues: 'ALL_OLD',
    });
    expect(before.Attributes).toMatchObject({ label: 'two', n: 3 });

    const deleted = await table().delete({ TableName: db.tableName, Key: key, ReturnValues: 'ALL_OLD' });
    expect(deleted.Attributes).toEqual({ ...key, n: 3, list: ['x', { y: new Uint8Array([9]) }] });
    const again = await table().delete({ TableName: db.tableName, Key: key, ReturnValues: 'ALL_OLD' });
    expect(again.Attributes).toBeUndefined();
    expect(
      (await table().get({ TableName: db.tableName, Key: key, ConsistentRead: true })).Item,
    ).toBeUndefined();
  });

  it('rejects a refused condition with ConditionalCheckFailedException, and writes nothing', async () => {
    const key = { pk: 'fetch#condition', sk: 'item' };
    await table().put({ TableName: db.tableName, Item: { ...key, version: 1 } });
    const refusals = [
      () =>
        table().put({
          TableName: db.tableName,
          Item: { ...key, version: 9 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      () =>
        table().update({
          TableName: db.tableName,
          Key: key,
          UpdateExpression: 'SET #v = :next',
          ConditionExpression: '#v = :expected',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':next': 9, ':expected': 5 },
        }),
      () =>
        table().delete({
          TableName: db.tableName,
          Key: key,
          ConditionExpression: '#v = :expected',
          ExpressionAttributeNames: { '#v': 'version' },
          ExpressionAttributeValues: { ':expected': 5 },
        }),
    ];
    for (const refusal of refusals) {
      const error = await refusal().catch((e: unknown) => e);
      expect(isConditionFailure(error)).toBe(true);
      expect(error).toMatchObject({
        name: 'ConditionalCheckFailedException',
        $metadata: { httpStatusCode: 400, attempts: 1 },
      });
    }
    const { Item } = await table().get({ TableName: db.tableName, Key: key, ConsistentRead: true });
    expect(Item).toEqual({ ...key, version: 1 });
  });

  it('carries the refused item as the SDK does (ReturnValuesOnConditionCheckFailure)', async () => {
    const key = { pk: 'fetch#refused-item', sk: 'item' };
    const input = {
      TableName: db.tableName,
      Item: { ...key, n: 1, bytes: new Uint8Array([1, 2]) },
      ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
    };
    await table().put(input);
    const bySdk = await db.ddb.send(new PutCommand(input)).catch((e: unknown) => e);
    const byFetch = await table()
      .put(input)
      .catch((e: unknown) => e);
    expect(byFetch).toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect((byFetch as { Item?: unknown }).Item).toEqual((bySdk as { Item?: unknown }).Item);
    expect((byFetch as { Item?: unknown }).Item).toMatchObject({ bytes: { B: new Uint8Array([1, 2]) } });
  });

  it('queries a partition a page at a time, in either order, with a projection', async () => {
    const pk = 'fetch#query';
    for (let i = 0; i < 5; i++) {
      await table().put({ TableName: db.tableName, Item: { pk, sk: `route#${i}`, i, extra: 'x' } });
    }
    await table().put({ TableName: db.tableName, Item: { pk, sk: 'other', i: 99 } });

    const query = (ExclusiveStartKey?: Record<string, unknown>) =>
      table().query({
        TableName: db.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': 'route#' },
        ProjectionExpression: 'pk, sk, #i',
        ExpressionAttributeNames: { '#i': 'i' },
        ConsistentRead: true,
        ScanIndexForward: false,
        Limit: 2,
        ExclusiveStartKey,
      });
    const seen: unknown[] = [];
    let start: Record<string, unknown> | undefined;
    let pages = 0;
    do {
      const page = await query(start);
      pages++;
      seen.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
      if (start) expect(start).toEqual({ pk, sk: expect.stringMatching(/^route#/) });
    } while (start);
    expect(pages).toBe(3);
    expect(seen).toEqual([4, 3, 2, 1, 0].map((i) => ({ pk, sk: `route#${i}`, i })));
  });

  it('names a missing table ResourceNotFoundException', async () => {
    const error = await table()
      .get({ TableName: 'no-such-table', Key: { pk: 'a', sk: 'b' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: 'ResourceNotFoundException', $metadata: { httpStatusCode: 400 } });
    expect(isConditionFailure(error)).toBe(false);
  });

  it('honours an abort signal', async () => {
    await expect(
      table().get(
        { TableName: db.tableName, Key: { pk: 'fetch#abort', sk: 'item' } },
        { abortSignal: AbortSignal.abort() },
      ),
    ).rejects.toMatchObject({ name: 'AbortError' });
  });
});
