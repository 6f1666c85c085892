import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createKmsSigner } from '../core/authorization/signer.ts';
import type { RouteConfig } from '../core/config/schema.ts';
import { deriveKey } from '../core/crypto/derive-key.ts';
import type { McpProxyDeps } from '../core/proxy/mcp-endpoint.ts';
import { RouteTable } from '../core/routes.ts';
import { createRecordMac, recordKeyFrom } from '../core/store/record-mac.ts';
import { createKmsCipher } from '../core/vault/kms-cipher.ts';
import { AWS_CLIENT_SETTINGS } from './aws-clients.ts';
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
  const kms = new KMSClient(AWS_CLIENT_SETTINGS);
  const secretsManager = new SecretsManagerClient(AWS_CLIENT_SETTINGS);
  const secretValue = async (arn: string) => {
    const out = await secretsManager.send(new GetSecretValueCommand({ SecretId: arn }));
    if (!out.SecretString) throw new Error('the secret is empty');
    return out.SecretString;
  };
  const configured = new Map<string, Promise<string>>();
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient(AWS_CLIENT_SETTINGS), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const signer = createKmsSigner({ kms, keyId: required(env, 'MCP_EDGE_SIGNING_KEY_ARN') });
  // The sealing secret (the proxy's sealing key and the table records' key) and the public key
  // (so the first call verifies offline too), both once per cold start, side by side.
  const [sealingSecret] = await Promise.all([
    secretValue(required(env, 'MCP_EDGE_SEALING_SECRET_ARN')),
    signer.publicKey(),
  ]);
  const records = createRecordMac(recordKeyFrom(sealingSecret));
  const { vault } = createVaultServices({
    ddb,
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
    ddb,
    tableName,
    routes,
    vault,
    publicKey: () => signer.publicKey(),
    sealingKey,
    records,
  });
  return { proxy, originSecret };
}
