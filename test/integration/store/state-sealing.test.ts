import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { singleUseKey } from '../../../functions/core/store/keys.ts';
import { createStateStore, type StateInput } from '../../../functions/core/store/state.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

/** A state record's data is sealed under a key only the raw state value gives. */
describe('sealed state record data', () => {
  const store = () => createStateStore({ table: db.table, tableName: db.tableName, records: db.records });
  const input = (): StateInput => ({
    route: 'https://mcp.example.com',
    userId: 'alice',
    binding: randomToken(),
    codeVerifier: randomToken(),
    issuer: 'https://as.example',
    authorizationEndpoint: 'https://as.example/authorize',
    tokenEndpoint: 'https://as.example/token',
    redirectUri: 'https://mcp.example.com/.pomerium/oauth/callback',
    resource: 'https://up.example/mcp',
    clientId: 'https://mcp.example.com/.well-known/mcp-client-metadata.json',
    clientAuth: { method: 'none' },
    scopes: ['mcp:tools'],
    returnTo: '/.pomerium/connections',
    resume: { kind: 'connect' },
  });
  const raw = async (state: string) =>
    (
      await db.ddb.send(
        new GetCommand({ TableName: db.tableName, Key: singleUseKey('state', state), ConsistentRead: true }),
      )
    ).Item!;

  it('keeps the PKCE verifier and endpoints out of the table while the flow is in progress', async () => {
    const record = input();
    const { state } = await store().createState(record);
    const item = JSON.stringify(await raw(state));
    expect(item).not.toContain(record.codeVerifier);
    expect(item).not.toContain(record.tokenEndpoint);
    expect(item).not.toContain(state);
    const consumed = await store().consumeState(state, {
      route: record.route,
      userId: 'alice',
      binding: record.binding,
    });
    expect(consumed).toMatchObject({
      ok: true,
      record: { codeVerifier: record.codeVerifier, tokenEndpoint: record.tokenEndpoint },
    });
  });

  it('refuses a record whose sealed data was replaced by another record’s (planted endpoints)', async () => {
    const a = input();
    const b = { ...input(), tokenEndpoint: 'https://attacker.example/token' };
    const { state: stateA } = await store().createState(a);
    const { state: stateB } = await store().createState(b);
    await db.ddb.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: singleUseKey('state', stateA),
        UpdateExpression: 'SET #d = :d',
        ExpressionAttributeNames: { '#d': 'data' },
        ExpressionAttributeValues: { ':d': (await raw(stateB)).data },
      }),
    );
    expect(
      await store().consumeState(stateA, { route: a.route, userId: 'alice', binding: a.binding }),
    ).toEqual({
      ok: false,
      code: 'state_unknown',
    });
  });
});
