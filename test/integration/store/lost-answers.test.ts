import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { createCodeStore } from '../../../functions/core/store/authorization-codes.ts';
import { createGrantStore } from '../../../functions/core/store/grants.ts';
import type { Table } from '../../../functions/core/store/table.ts';
import { createLocalCipher } from '../../../functions/core/vault/cipher.ts';
import { createLease } from '../../../functions/core/vault/lease.ts';
import { createVault } from '../../../functions/core/vault/vault.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

/**
 * The AWS SDK retries a request whose answer timed out (maxAttempts 2). For a conditional write
 * that did succeed, the retry's condition fails: without care, a person's own refresh would look
 * like reuse (and revoke their grant), their own code redemption like a replay, their own lease
 * like someone else's. Here every conditional UpdateItem is sent twice, as such a retry does, and
 * the caller sees only the second answer.
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
