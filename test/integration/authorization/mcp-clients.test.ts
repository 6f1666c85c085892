import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { isRandomToken } from '../../../functions/core/crypto/random.ts';
import { mcpClientKey } from '../../../functions/core/store/keys.ts';
import {
  createMcpClientStore,
  isRegisteredClientId,
  REGISTERED_CLIENT_TTL_DAYS,
} from '../../../functions/core/store/mcp-clients.ts';
import { spyOnTable, useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

const DAY = 86_400_000;
const clock = { t: 1_800_000_000_000, now: () => clock.t };
const store = () =>
  createMcpClientStore({ table: db.table, tableName: db.tableName, records: db.records, clock });

const ROUTE_A = 'https://a.example.com';
const ROUTE_B = 'https://b.example.com';
const registration = {
  route: ROUTE_A,
  clientName: 'Inspector',
  redirectUris: ['http://localhost:6274/oauth/callback'],
  grantTypes: ['authorization_code', 'refresh_token'],
  clientUri: 'https://inspector.example',
};

describe('dynamically registered MCP clients', () => {
  it('registers a client and reads it back on its route', async () => {
    const clients = store();
    const registered = await clients.register(registration);
    expect(registered).toEqual({ ...registration, clientId: registered.clientId, issuedAt: clock.t });
    expect(await clients.get(registered.clientId, ROUTE_A)).toEqual(registered);
  });

  it('keeps optional fields absent when they were not given', async () => {
    const clients = store();
    const registered = await clients.register({
      route: ROUTE_A,
      redirectUris: ['https://app.example/cb'],
      grantTypes: ['authorization_code'],
    });
    expect(await clients.get(registered.clientId, ROUTE_A)).toEqual({
      clientId: registered.clientId,
      route: ROUTE_A,
      redirectUris: ['https://app.example/cb'],
      grantTypes: ['authorization_code'],
      issuedAt: clock.t,
    });
  });

  it('does not know a client registered on route A on route B', async () => {
    const clients = store();
    const { clientId } = await clients.register(registration);
    expect(await clients.get(clientId, ROUTE_B)).toBeUndefined();
    expect(await clients.get(clientId, `${ROUTE_A}:8443`)).toBeUndefined();
    expect(await clients.get(clientId, ROUTE_A)).toBeDefined();
  });

  it('forgets a registration after 90 days although TTL has not removed it', async () => {
    const clients = store();
    const { clientId } = await clients.register(registration);
    const end = clock.t + REGISTERED_CLIENT_TTL_DAYS * DAY;
    const saved = clock.t;
    try {
      clock.t = end - 1;
      expect(await clients.get(clientId, ROUTE_A)).toBeDefined();
      clock.t = end;
      expect(await clients.get(clientId, ROUTE_A)).toBeUndefined();
    } finally {
      clock.t = saved;
    }
    const { Item } = await db.ddb.send(
      new GetCommand({ TableName: db.tableName, Key: mcpClientKey(clientId), ConsistentRead: true }),
    );
    expect(Item?.ttl).toBe(Math.ceil(end / 1000));
  });

  it('gives client ids the mcp-edge-dcr- prefix and 128 random bits, never twice', async () => {
    const clients = store();
    const ids = await Promise.all(Array.from({ length: 40 }, () => clients.register(registration)));
    const seen = new Set<string>();
    for (const { clientId } of ids) {
      expect(clientId.startsWith('mcp-edge-dcr-')).toBe(true);
      const suffix = clientId.slice('mcp-edge-dcr-'.length);
      expect(isRandomToken(suffix, 16)).toBe(true);
      expect(Buffer.from(suffix, 'base64url')).toHaveLength(16);
      expect(isRegisteredClientId(clientId)).toBe(true);
      seen.add(clientId);
    }
    expect(seen.size).toBe(40);
    // Every bit position varies across the ids (random, not a counter or a timestamp).
    const orAll = Buffer.alloc(16);
    const andAll = Buffer.alloc(16, 0xff);
    for (const id of seen) {
      const bytes = Buffer.from(id.slice(13), 'base64url');
      for (let i = 0; i < 16; i++) {
        orAll[i]! |= bytes[i]!;
        andAll[i]! &= bytes[i]!;
      }
    }
    expect(orAll.equals(Buffer.alloc(16, 0xff))).toBe(true);
    expect(andAll.equals(Buffer.alloc(16))).toBe(true);
  });

  it.each([
    'mcp-edge-dcr-',
    'mcp-edge-dcr-short',
    `mcp-edge-dcr-${'A'.repeat(23)}`,
    `MCP-EDGE-DCR-${'A'.repeat(22)}`,
    `x-mcp-edge-dcr-${'A'.repeat(22)}`,
    'https://app.example.com/client.json',
    '',
  ])('answers the id %j as unknown without a DynamoDB call', async (clientId) => {
    expect(isRegisteredClientId(clientId)).toBe(false);
    const tableCalls = spyOnTable(db.table);
    try {
      expect(await store().get(clientId, ROUTE_A)).toBeUndefined();
      expect(tableCalls.count()).toBe(0);
    } finally {
      tableCalls.restore();
    }
  });

  it('answers a well-formed id that was never registered as unknown', async () => {
    expect(await store().get(`mcp-edge-dcr-${'B'.repeat(22)}`, ROUTE_A)).toBeUndefined();
  });
});
