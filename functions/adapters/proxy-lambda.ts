import { createKmsSigner } from '../core/authorization/signer.ts';
import type { RouteConfig } from '../core/config/schema.ts';
import { deriveKey } from '../core/crypto/derive-key.ts';
import type { McpProxyDeps } from '../core/proxy/mcp-endpoint.ts';
import { RouteTable } from '../core/routes.ts';
import { createRecordMac, recordKeyFrom } from '../core/store/record-mac.ts';
import { createKmsCipher } from '../core/vault/kms-cipher.ts';
import { createFetchKms, createFetchSecrets } from './fetch-kms.ts';
import { createFetchTable } from './fetch-table.ts';
import { createProxyServices } from './proxy-services.ts';
import { createVaultServices } from './vault-services.ts';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/**
 * The route table as synth wrote it. The proxy does not load the config schema (its bundle must
 * stay small and start fast): `cdk synth` validated the config, so this only checks the shape.
 */
function routesFrom(env: NodeJS.ProcessEnv): RouteConfig[] {
  let routes: unknown;
  try {
    routes = JSON.parse(required(env, 'MCP_EDGE_ROUTES'));
  } catch {
    throw new Error('MCP_EDGE_ROUTES is not valid JSON');
  }
  if (
    !Array.isArray(routes) ||
    routes.length === 0 ||
    !routes.every((r) => typeof r?.from === 'string' && typeof r?.to === 'string')
  ) {
    throw new Error('MCP_EDGE_ROUTES is not a list of routes');
  }
  return routes as RouteConfig[];
}

/**
 * The proxy function's dependencies from the environment CDK sets (lib/function-settings.ts):
 * the table and vault key, the signing key's public half, the sealing secret, the route table and
 * the origin secret. The secrets and the public key are read once per cold start; a warm call
 * makes no table, KMS or Secrets Manager call.
 */
export async function proxyLambdaServices(
  env: NodeJS.ProcessEnv,
): Promise<{ proxy: McpProxyDeps; originSecret: string }> {
  const originSecret = required(env, 'MCP_EDGE_ORIGIN_VERIFY');
  const routes = new RouteTable(routesFrom(env));
  const tableName = required(env, 'MCP_EDGE_TABLE');
  // Signed fetch instead of the AWS SDK's clients (fetch-table.ts, fetch-kms.ts): same calls, same
  // timeouts and retries, a fraction of the bundle and of the module's start-up time.
  const kms = createFetchKms({ env });
  const secrets = createFetchSecrets({ env });
  const secretValue = (arn: string) => secrets.getSecretValue(arn);
  const configured = new Map<string, Promise<string>>();
  const table = createFetchTable({ env });
  const signer = createKmsSigner({ kms, keyId: required(env, 'MCP_EDGE_SIGNING_KEY_ARN') });
  // The sealing secret (the proxy's sealing key and the table records' key) and the public key
  // (so the first call verifies offline too), both once per cold start, side by side.
  const [sealingSecret] = await Promise.all([
    secretValue(required(env, 'MCP_EDGE_SEALING_SECRET_ARN')),
    signer.publicKey(),
  ]);
  const records = createRecordMac(recordKeyFrom(sealingSecret));
  const { vault } = createVaultServices({
    table,
    records,
    tableName,
    routes,
    cipher: createKmsCipher({ kms, keyId: required(env, 'MCP_EDGE_KMS_KEY_ARN') }),
    // Upstream client secrets are only needed to refresh a confidential client's tokens: read on
    // first use, then kept for the instance's life.
    configuredSecret: (ref) => {
      if (!ref.secretArn) throw new Error('configured client secrets must be Secrets Manager ARNs in AWS');
      let value = configured.get(ref.secretArn);
      if (!value) {
        value = secretValue(ref.secretArn);
        value.catch(() => configured.delete(ref.secretArn!));
        configured.set(ref.secretArn, value);
      }
      return value;
    },
  });
  const sealingKey = deriveKey(sealingSecret, 'proxy-sealing/v1');
  const { proxy } = createProxyServices({
    table,
    tableName,
    routes,
    vault,
    publicKey: () => signer.publicKey(),
    sealingKey,
    records,
  });
  return { proxy, originSecret };
}
