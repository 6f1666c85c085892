import { createHash, randomBytes } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { seal } from '../../../functions/core/crypto/aes-gcm.ts';
import { sha256Base64url } from '../../../functions/core/crypto/hash.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import type { UpstreamAuthorization } from '../../../functions/core/oauth/upstream-discovery.ts';
import { createCodeStore } from '../../../functions/core/store/authorization-codes.ts';
import { createDiscoveryCache } from '../../../functions/core/store/discovery-cache.ts';
import { createGrantStore } from '../../../functions/core/store/grants.ts';
import {
  codeKey,
  type ItemKey,
  mcpClientKey,
  refreshKey,
  sessionKey,
  singleUseKey,
} from '../../../functions/core/store/keys.ts';
import { createMcpClientStore } from '../../../functions/core/store/mcp-clients.ts';
import { createRecordMac } from '../../../functions/core/store/record-mac.ts';
import { createRegistrationStore } from '../../../functions/core/store/registrations.ts';
import { createSessionStore } from '../../../functions/core/store/sessions.ts';
import { createStateStore, type StateInput } from '../../../functions/core/store/state.ts';
import { createLocalCipher } from '../../../functions/core/vault/cipher.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

/**
 * Issue 9 item 1: someone who can write the table but holds none of the gateway's keys must not
 * be able to decide where a code, token or client secret is sent, or whom a session, code, grant
 * or refresh token belongs to. Each record kind: a planted record and an edited one are refused.
 */
const db = useDynamoLocal();
const deps = () => ({ table: db.table, tableName: db.tableName, records: db.records });
/** Another deployment's key: what an attacker holding a different secret could tag with. */
const otherKey = createRecordMac(randomBytes(32));

const route = 'https://mcp.example.com';
const upstream = 'https://up.example/mcp';

async function raw(key: ItemKey) {
  return (await db.ddb.send(new GetCommand({ TableName: db.tableName, Key: key, ConsistentRead: true })))
    .Item;
}
async function edit(key: ItemKey, attribute: string, value: unknown) {
  await db.ddb.send(
    new UpdateCommand({
      TableName: db.tableName,
      Key: key,
      UpdateExpression: 'SET #a = :v',
      ExpressionAttributeNames: { '#a': attribute },
      ExpressionAttributeValues: { ':v': value },
    }),
  );
}
async function plant(item: Record<string, unknown>) {
  await db.ddb.send(new PutCommand({ TableName: db.tableName, Item: item }));
}

describe('discovery cache: the token endpoint that receives codes, verifiers and client secrets', () => {
  const key = { pk: `discovery#${sha256Base64url(`${route}\n${upstream}`)}`, sk: 'discovery' };
  const result: UpstreamAuthorization = {
    resource: upstream,
    scopes: ['mcp'],
    as: {
      issuer: 'https://as.example/',
      authorization_endpoint: 'https://as.example/authorize',
      token_endpoint: 'https://as.example/token',
    },
  };

  it('ignores an entry whose token endpoint was edited in the table', async () => {
    const cache = createDiscoveryCache(deps());
    await cache.put(route, upstream, result);
    expect(await cache.get(route, upstream)).toEqual(result);
    const planted = { ...result, as: { ...result.as, token_endpoint: 'https://attacker.example/token' } };
    await edit(key, 'value', JSON.stringify(planted));
    expect(await cache.get(route, upstream)).toBeUndefined();
  });

  it('ignores an entry planted without a tag, or tagged with another key', async () => {
    const cache = createDiscoveryCache(deps());
    const value = JSON.stringify(result);
    const expiresAt = Date.now() + 60_000;
    await plant({ ...key, value, expiresAt });
    expect(await cache.get(route, upstream)).toBeUndefined();
    await plant({ ...key, value, expiresAt, mac: otherKey.tag(key, [route, upstream, value, expiresAt]) });
    expect(await cache.get(route, upstream)).toBeUndefined();
  });
});

describe('upstream registrations', () => {
  const issuer = 'https://as.example/';
  const key = { pk: `registration#${sha256Base64url(route)}`, sk: `issuer#${issuer}` };
  const store = () => createRegistrationStore({ ...deps(), cipher: createLocalCipher(randomBytes(32)) });

  it('ignores a registration whose client id was edited, and replaces it on the next registration', async () => {
    await db.ddb.send(new DeleteCommand({ TableName: db.tableName, Key: key }));
    const registrations = store();
    await registrations.put(route, issuer, { clientId: 'gateway-client', tokenEndpointAuthMethod: 'none' });
    expect(await registrations.get(route, issuer)).toMatchObject({ clientId: 'gateway-client' });
    await edit(key, 'clientId', 'attacker-client');
    expect(await registrations.get(route, issuer)).toBeUndefined();
    const stored = await registrations.put(route, issuer, {
      clientId: 'fresh-client',
      tokenEndpointAuthMethod: 'none',
    });
    expect(stored.clientId).toBe('fresh-client');
    expect(await registrations.get(route, issuer)).toMatchObject({ clientId: 'fresh-client' });
  });
});

describe('upstream-connect state', () => {
  const input = (): StateInput => ({
    route,
    userId: 'mallory',
    binding: randomToken(),
    codeVerifier: randomToken(),
    issuer: 'https://as.example/',
    authorizationEndpoint: 'https://as.example/authorize',
    tokenEndpoint: 'https://as.example/token',
    redirectUri: `${route}/.pomerium/oauth/callback`,
    resource: upstream,
    clientId: 'configured-client',
    clientAuth: { method: 'client_secret_basic', secretRef: { env: 'UPSTREAM_SECRET' } },
    scopes: ['mcp'],
    returnTo: '/.pomerium/connections',
    resume: { kind: 'connect' },
  });

  it('refuses data re-sealed by the person who holds the state value (the old, value-only key)', async () => {
    // Mallory starts her own connect, so she knows her state value; with table write access she
    // re-seals the record's data to send the code, verifier and configured secret elsewhere.
    const mine = input();
    const { state } = await createStateStore(deps()).createState(mine);
    const key = singleUseKey('state', state);
    const item = (await raw(key))!;
    const valueOnlyKey = createHash('sha256').update(`mcp-edge/single-use-data/v1\nstate\n${state}`).digest();
    const {
      route: _r,
      userId: _u,
      binding: _b,
      ...data
    } = { ...mine, tokenEndpoint: 'https://attacker.example/token' };
    const aad = new TextEncoder().encode(JSON.stringify([key.pk, item.route, item.userId, item.bindingHash]));
    const sealed = seal(valueOnlyKey, new TextEncoder().encode(JSON.stringify(data)), aad);
    await edit(key, 'data', {
      iv: Buffer.from(sealed.iv).toString('base64url'),
      ct: Buffer.from(sealed.ciphertext).toString('base64url'),
    });
    expect(
      await createStateStore(deps()).consumeState(state, { route, userId: 'mallory', binding: mine.binding }),
    ).toEqual({ ok: false, code: 'state_unknown' });
  });

  it('refuses a record written under another deployment’s key', async () => {
    const mine = input();
    const { state } = await createStateStore({ ...deps(), records: otherKey }).createState(mine);
    expect(
      await createStateStore(deps()).consumeState(state, { route, userId: 'mallory', binding: mine.binding }),
    ).toEqual({ ok: false, code: 'state_unknown' });
  });
});

describe('sessions', () => {
  it('does not accept a session planted for a cookie value the attacker chose', async () => {
    const id = randomToken();
    const now = Date.now();
    await plant({
      ...sessionKey(id),
      userId: 'https://idp.example|alice',
      issuer: 'https://idp.example',
      createdAt: now,
      expiresAt: now + 3_600_000,
    });
    expect(await createSessionStore(deps()).getSession(id)).toBeUndefined();
  });

  it('does not accept a session whose person was edited', async () => {
    const sessions = createSessionStore(deps());
    const { id } = await sessions.createSession({ userId: 'mallory', issuer: 'https://idp.example' });
    expect(await sessions.getSession(id)).toMatchObject({ userId: 'mallory' });
    await edit(sessionKey(id), 'userId', 'alice');
    expect(await sessions.getSession(id)).toBeUndefined();
  });
});

describe('authorization codes', () => {
  const input = {
    route,
    userId: 'alice',
    clientId: 'https://client.example/cimd.json',
    redirectUri: 'https://client.example/cb',
    codeChallenge: sha256Base64url('verifier'),
    resource: `${route}/mcp`,
    scope: 'mcp',
  };
  const presented = {
    clientId: input.clientId,
    redirectUri: input.redirectUri,
    challenge: input.codeChallenge,
    resource: input.resource,
    route,
  };

  it('never redeems a code planted in the table with every binding right', async () => {
    const code = randomToken();
    const now = Date.now();
    await plant({
      ...codeKey(code),
      ...input,
      redirectUriSent: true,
      createdAt: now,
      expiresAt: now + 60_000,
    });
    expect(await createCodeStore(deps()).redeem(code, presented, 'grant-1')).toEqual({
      ok: false,
      reason: 'unknown',
    });
  });

  it('never redeems a code whose person was edited', async () => {
    const codes = createCodeStore(deps());
    const code = await codes.issue({ ...input, userId: 'mallory' });
    await edit(codeKey(code), 'userId', 'alice');
    expect(await codes.redeem(code, presented, 'grant-2')).toEqual({ ok: false, reason: 'unknown' });
  });
});

describe('consents, grants and refresh tokens', () => {
  const client = 'https://client.example/cimd.json';
  const grant = (userId: string) => ({
    userId,
    route,
    clientId: client,
    grantId: randomToken(16),
    scope: 'mcp',
    resource: `${route}/mcp`,
  });

  it('ignores a consent planted for a client the person never approved (no consent bypass)', async () => {
    const grants = createGrantStore(deps());
    await grants.rememberConsent('alice', {
      route,
      clientId: 'https://good.example/cimd.json',
      clientName: 'Good',
      clientKind: 'cimd',
      scope: 'mcp',
    });
    const good = (await grants.listConsents('alice'))[0]!;
    const goodItem = (
      await db.ddb.send(
        new GetCommand({
          TableName: db.tableName,
          Key: {
            pk: `grant#${sha256Base64url('alice')}`,
            sk: `consent#${route}#${sha256Base64url(good.clientId)}`,
          },
        }),
      )
    ).Item!;
    // A copy of a real consent under the attacker client's key: its tag names the other client.
    await plant({
      ...goodItem,
      sk: `consent#${route}#${sha256Base64url('https://evil.example/cimd.json')}`,
      clientId: 'https://evil.example/cimd.json',
    });
    expect(await grants.getConsent('alice', route, 'https://evil.example/cimd.json')).toBeUndefined();
    expect((await grants.listConsents('alice')).map((c) => c.clientId)).toEqual([
      'https://good.example/cimd.json',
    ]);
  });

  it('treats a grant whose scope was widened in the table as dead', async () => {
    const grants = createGrantStore(deps());
    const g = grant('alice');
    await grants.createGrant(g);
    expect(await grants.grantExists(g)).toBe(true);
    const key = {
      pk: `grant#${sha256Base64url('alice')}`,
      sk: `grant#${route}#${sha256Base64url(client)}#${g.grantId}`,
    };
    await edit(key, 'scope', 'mcp admin');
    expect(await grants.grantExists(g)).toBe(false);
  });

  it('never rotates a refresh token planted for another person, or one whose person was edited', async () => {
    const grants = createGrantStore(deps());
    const token = randomToken();
    const now = Date.now();
    const g = grant('alice');
    await grants.createGrant(g);
    await plant({ ...refreshKey(token), ...g, state: 'active', createdAt: now, expiresAt: now + 86_400_000 });
    expect(await grants.rotate(token, { clientId: client, route })).toEqual({ ok: false, reason: 'unknown' });
    expect(await grants.grantOfRefreshToken(token, { clientId: client, route })).toBeUndefined();

    const mallory = grant('mallory');
    const issued = await grants.createGrant(mallory);
    await edit(refreshKey(issued), 'userId', 'alice');
    expect(await grants.rotate(issued, { clientId: client, route })).toEqual({
      ok: false,
      reason: 'unknown',
    });
  });
});

describe('dynamically registered MCP clients', () => {
  it('ignores a registration whose redirect URIs were edited, and one planted without a tag', async () => {
    const clients = createMcpClientStore(deps());
    const registered = await clients.register({
      route,
      clientName: 'Tool',
      redirectUris: ['http://127.0.0.1:4000/cb'],
      grantTypes: ['authorization_code'],
    });
    expect(await clients.get(registered.clientId, route)).toMatchObject({ clientName: 'Tool' });
    await edit(mcpClientKey(registered.clientId), 'redirectUris', ['https://attacker.example/cb']);
    expect(await clients.get(registered.clientId, route)).toBeUndefined();

    const planted = `mcp-edge-dcr-${randomToken(16)}`;
    await plant({
      ...mcpClientKey(planted),
      clientId: planted,
      route,
      redirectUris: ['https://attacker.example/cb'],
      grantTypes: ['authorization_code'],
      issuedAt: Date.now(),
      expiresAt: Date.now() + 86_400_000,
    });
    expect(await clients.get(planted, route)).toBeUndefined();
  });
});
