import { randomBytes } from 'node:crypto';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { vaultKey } from '../../../functions/core/store/keys.ts';
import { createLocalCipher } from '../../../functions/core/vault/cipher.ts';
import { createVault } from '../../../functions/core/vault/vault.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

/**
 * Someone with write access to the table but not to the key edits an item's clear metadata to
 * send the next refresh or revocation (with the refresh token and client secret) to their server.
 * The sealed binding makes such an item unusable instead.
 */
describe('vault items whose clear metadata was edited', () => {
  const vault = () =>
    createVault({ table: db.table, tableName: db.tableName, cipher: createLocalCipher(randomBytesKey) });
  const randomBytesKey = randomBytes(32);
  const key = { route: 'https://mcp.example.com', user: 'alice' };

  async function stored() {
    await vault().put(key, {
      issuer: 'https://as.example',
      tokenEndpoint: 'https://as.example/token',
      revocationEndpoint: 'https://as.example/revoke',
      clientId: 'https://mcp.example.com/.well-known/mcp-client-metadata.json',
      clientAuth: { method: 'none' },
      resource: 'https://up.example/mcp',
      accessToken: 'access-token-value',
      refreshToken: 'refresh-token-value',
      expiresAt: Date.now() + 3_600_000,
      tokenType: 'Bearer',
    });
  }

  it.each([
    ['tokenEndpoint', 'https://attacker.example/token'],
    ['revocationEndpoint', 'https://attacker.example/revoke'],
    ['clientId', 'someone-else'],
    ['clientAuth', { method: 'client_secret_post', secretRef: { env: 'AWS_SESSION_TOKEN' } }],
    ['resource', 'https://attacker.example/mcp'],
    ['allowInsecureRequests', true],
  ])(
    'refuses to open an item whose %s was changed, and gives disconnect no token to revoke',
    async (field, value) => {
      await stored();
      expect(await vault().get(key)).toMatchObject({ ok: true, accessToken: 'access-token-value' });
      await db.ddb.send(
        new UpdateCommand({
          TableName: db.tableName,
          Key: vaultKey(key.route, key.user),
          UpdateExpression: 'SET #f = :v',
          ExpressionAttributeNames: { '#f': field },
          ExpressionAttributeValues: { ':v': value },
        }),
      );
      expect(await vault().get(key)).toEqual({ ok: false, code: 'decrypt_failed' });
      const removed = await vault().delete(key);
      expect(removed?.refreshToken).toBeUndefined();
      expect(removed?.accessToken).toBeUndefined();
    },
  );
});
