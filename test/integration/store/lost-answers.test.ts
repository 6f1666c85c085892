import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { createCodeStore } from '../../../functions/core/store/authorization-codes.ts';
import { createGrantStore, GrantRevokedError } from '../../../functions/core/store/grants.ts';
import { createMcpClientStore } from '../../../functions/core/store/mcp-clients.ts';
import { createSessionStore } from '../../../functions/core/store/sessions.ts';
import { createStateStore } from '../../../functions/core/store/state.ts';
import type { Table } from '../../../functions/core/store/table.ts';
import { createLocalCipher } from '../../../functions/core/vault/cipher.ts';
import { createLease } from '../../../functions/core/vault/lease.ts';
import { createVault } from '../../../functions/core/vault/vault.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

/**
 * The AWS SDK retries a request whose answer timed out (maxAttempts 2). For a conditional write
 * that did succeed, the retry's condition fails: without care, a person's own refresh would look
 * like reuse (and revoke their grant), their own code redemption like a replay, their own lease
 * like someone else's, and every new record (a code, a refresh token, a session, a state, a
 * registered client, a grant) like a clash. Here every conditional UpdateItem and PutItem is sent
 * twice, as such a retry does, and the caller sees only the second answer.
 */
const db = useDynamoLocal();

function retryingTable(): Table {
  const real = db.table;
  return {
    ...real,
    async update(input, options) {
      if (input.ConditionExpression) await real.update(input, options); // the attempt whose answer was lost
      return real.update(input, options);
    },
    async put(input, options) {
      if (input.ConditionExpression) await real.put(input, options); // the attempt whose answer was lost
      return real.put(input, options);
    },
  };
}
const deps = () => ({
  table: retryingTable(),
  tableName: db.tableName,
  records: db.records,
});

describe('a conditional write retried after its answer was lost', () => {
  it('redeems the code once, for the request that redeemed it', async () => {
    const codes = createCodeStore(deps());
    const verifier = randomToken();
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const input = {
      route: 'https://mcp.example.com',
      userId: 'alice',
      clientId: 'cli',
      redirectUri: 'http://127.0.0.1/cb',
      codeChallenge: challenge,
      resource: 'https://mcp.example.com/mcp',
      scope: 'mcp',
    };
    const code = await codes.issue(input);
    const presented = {
      clientId: 'cli',
      redirectUri: input.redirectUri,
      challenge,
      resource: input.resource,
      route: input.route,
    };
    expect(await codes.redeem(code, presented, 'grant-a')).toMatchObject({
      ok: true,
      code: { grantId: 'grant-a' },
    });
    // Anyone else presenting it afterwards is still a replay.
    expect(await codes.redeem(code, presented, 'grant-b')).toMatchObject({ ok: false, reason: 'replayed' });
  });

  it('rotates the refresh token without taking its own claim for reuse', async () => {
    const grants = createGrantStore(deps());
    const grant = {
      userId: 'alice',
      route: 'https://mcp.example.com',
      clientId: 'cli',
      grantId: randomToken(16),
      scope: 'mcp',
      resource: 'https://mcp.example.com/mcp',
    };
    const first = await grants.createGrant(grant);
    const rotated = await grants.rotate(first, { clientId: 'cli', route: grant.route });
    expect(rotated).toMatchObject({ ok: true });
    expect(await grants.grantExists(grant)).toBe(true);
    // The old token presented again is reuse, and ends the grant.
    expect(await grants.rotate(first, { clientId: 'cli', route: grant.route })).toMatchObject({
      ok: false,
      reason: 'reused',
    });
    expect(await grants.grantExists(grant)).toBe(false);
  });

  it('creates new records — a session, a state, a registered client — once, and reads them back', async () => {
    const sessions = createSessionStore(deps());
    const { id } = await sessions.createSession({ userId: 'alice', issuer: 'https://idp.example' });
    expect(await sessions.getSession(id)).toMatchObject({ userId: 'alice' });

    const states = createStateStore(deps());
    const { state } = await states.createState({
      route: 'https://mcp.example.com',
      userId: 'alice',
      binding: 'browser-1',
      returnTo: '/.pomerium/connections',
      issParameterSupported: false,
      codeVerifier: randomToken(),
      issuer: 'https://as.example',
      authorizationEndpoint: 'https://as.example/authorize',
      tokenEndpoint: 'https://as.example/token',
      redirectUri: 'https://mcp.example.com/.pomerium/oauth/callback',
      resource: 'https://up.example/mcp',
      clientId: 'cli',
      clientAuth: { method: 'none' },
      scopes: ['mcp'],
      resume: { kind: 'connect' },
    });
    expect(
      await states.consumeState(state, {
        route: 'https://mcp.example.com',
        userId: 'alice',
        binding: 'browser-1',
      }),
    ).toMatchObject({ ok: true });

    const clients = createMcpClientStore(deps());
    const registered = await clients.register({
      route: 'https://mcp.example.com',
      redirectUris: ['http://127.0.0.1/cb'],
      grantTypes: ['authorization_code', 'refresh_token'],
    });
    expect(await clients.get(registered.clientId, 'https://mcp.example.com')).toEqual(registered);
  });

  it('still refuses a grant whose place a revocation took first', async () => {
    const grants = createGrantStore(deps());
    const grant = {
      userId: 'alice',
      route: 'https://mcp.example.com',
      clientId: 'cli',
      grantId: randomToken(16),
      scope: 'mcp',
      resource: 'https://mcp.example.com/mcp',
    };
    await grants.revokeGrant(grant);
    await expect(grants.createGrant(grant)).rejects.toBeInstanceOf(GrantRevokedError);
  });

  it('holds the lease it took', async () => {
    const key = { route: 'https://mcp.example.com', user: `u-${randomToken(6)}` };
    await createVault({
      table: db.table,
      tableName: db.tableName,
      cipher: createLocalCipher(Buffer.alloc(32, 7)),
    }).put(key, {
      issuer: 'https://as.example',
      tokenEndpoint: 'https://as.example/token',
      clientId: 'cli',
      clientAuth: { method: 'none' },
      accessToken: 'at',
      refreshToken: 'rt',
      tokenType: 'Bearer',
    });
    const lease = createLease({
      table: retryingTable(),
      tableName: db.tableName,
      clock: { now: () => Date.now() },
      leaseMs: 5_000,
    });
    const taken = await lease.take(key, 1);
    expect(taken).toBeDefined();
    // Held: another caller cannot take it.
    expect(await lease.take(key, 1)).toBeUndefined();
  });
});
