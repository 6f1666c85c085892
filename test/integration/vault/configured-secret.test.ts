import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createVaultServices } from '../../../functions/adapters/vault-services.ts';
import { parseConfig } from '../../../functions/core/config/parse.ts';
import { RouteTable } from '../../../functions/core/routes.ts';
import { createLocalCipher } from '../../../functions/core/vault/cipher.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

/**
 * Issue 9 item 1: a configured `upstream.clientSecret` is bound to the issuer it was configured
 * for. Whatever issuer an upstream's metadata (or a table record) names, the secret is handed out
 * only for the configured one.
 */
const db = useDynamoLocal();
const route = 'https://mcp.example.com';

function resolver() {
  const { secrets } = createVaultServices({
    table: db.table,
    tableName: db.tableName,
    records: db.records,
    routes: new RouteTable([
      {
        from: route,
        to: 'https://tools.example.com/mcp',
        upstream: {
          clientId: 'edge-tools',
          clientSecret: { env: 'TOOLS_SECRET' },
          authorizationServer: 'https://auth.tools.example.com',
        },
      },
    ]),
    cipher: createLocalCipher(randomBytes(32)),
    configuredSecret: async () => 'the-configured-secret',
  });
  const auth = { method: 'client_secret_basic' as const };
  return (issuer: string, clientId = 'edge-tools') => secrets(auth, { route, issuer, clientId });
}

describe('a configured client secret', () => {
  it('is given for the configured issuer, with or without its trailing slash', async () => {
    const secretFor = resolver();
    await expect(secretFor('https://auth.tools.example.com/')).resolves.toBe('the-configured-secret');
    await expect(secretFor('https://auth.tools.example.com')).resolves.toBe('the-configured-secret');
  });

  it('is never given for another issuer, even for the configured client id', async () => {
    const secretFor = resolver();
    await expect(secretFor('https://attacker.example/')).rejects.toThrow('another authorization server');
    await expect(secretFor('https://auth.tools.example.com/tenant-b')).rejects.toThrow();
  });

  it('is never given for another client id', async () => {
    await expect(resolver()('https://auth.tools.example.com/', 'other-client')).rejects.toThrow();
  });

  it('cannot be configured without the issuer it belongs to', () => {
    const result = parseConfig({
      routes: [
        {
          from: route,
          to: 'https://tools.example.com/mcp',
          upstream: { clientId: 'edge-tools', clientSecret: { env: 'TOOLS_SECRET' } },
        },
      ],
    });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors).toEqual([
      expect.stringMatching(
        /^routes\[0\]\.upstream\.authorizationServer: is needed with "upstream\.clientSecret"/,
      ),
    ]);
  });
});
