import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { createKmsSigner } from '../core/authorization/signer.ts';
import { authorizationSettingsSchema } from '../core/config/schema.ts';
import { recordKeyFrom } from '../core/store/record-mac.ts';
import { createKmsCipher } from '../core/vault/kms-cipher.ts';
import { AWS_CLIENT_SETTINGS } from './aws-clients.ts';
import { documentClientTable } from './document-client-table.ts';
import { kmsFromClient } from './kms.ts';
import { lambdaSettings } from './lambda-env.ts';
import { createServices, type Services } from './services.ts';

const idpSchema = z.object({
  issuer: z.url(),
  clientId: z.string().min(1),
  clientSecretArn: z.string().optional(),
  cognitoLogoutEndpoint: z.url().optional(),
});

/**
 * Services for a Lambda container, from the environment CDK sets (lib/gateway-function.ts):
 * MCP_EDGE_TABLE, MCP_EDGE_KMS_KEY_ARN, MCP_EDGE_SEALING_SECRET_ARN, MCP_EDGE_IDP (JSON: issuer,
 * clientId, clientSecretArn?),
 * plus the route table and origin secret. Built once per cold start.
 */
export async function lambdaServices(
  env: NodeJS.ProcessEnv,
): Promise<{ services: Services; originSecret: string }> {
  const { routes, originSecret } = lambdaSettings(env);
  const tableName = env.MCP_EDGE_TABLE;
  const keyId = env.MCP_EDGE_KMS_KEY_ARN;
  if (!tableName || !keyId) throw new Error('MCP_EDGE_TABLE and MCP_EDGE_KMS_KEY_ARN must be set');
  const idp = env.MCP_EDGE_IDP ? idpSchema.parse(JSON.parse(env.MCP_EDGE_IDP)) : undefined;
  const kms = kmsFromClient(new KMSClient(AWS_CLIENT_SETTINGS));
  const signingKey = env.MCP_EDGE_SIGNING_KEY_ARN;
  // The trust policy, pre-registered clients and token lifetimes, checked with the config schema.
  const authorization = env.MCP_EDGE_AUTHORIZATION
    ? authorizationSettingsSchema.parse(JSON.parse(env.MCP_EDGE_AUTHORIZATION))
    : undefined;

  const secretsManager = new SecretsManagerClient(AWS_CLIENT_SETTINGS);
  const secretCache = new Map<string, Promise<string>>();
  const fromSecretsManager = (arn: string) => {
    let value = secretCache.get(arn);
    if (!value) {
      value = secretsManager.send(new GetSecretValueCommand({ SecretId: arn })).then((out) => {
        if (!out.SecretString) throw new Error('the client secret is empty');
        return out.SecretString;
      });
      value.catch(() => secretCache.delete(arn));
      secretCache.set(arn, value);
    }
    return value;
  };

  // The table records' key (functions/core/store/record-mac.ts), from the stack's sealing secret.
  const sealingSecretArn = env.MCP_EDGE_SEALING_SECRET_ARN;
  if (!sealingSecretArn) throw new Error('MCP_EDGE_SEALING_SECRET_ARN must be set');
  const recordKey = recordKeyFrom(await fromSecretsManager(sealingSecretArn));

  const services = createServices({
    routes,
    recordKey,
    table: documentClientTable(new DynamoDBClient(AWS_CLIENT_SETTINGS)),
    tableName,
    cipher: createKmsCipher({ kms, keyId }),
    ...(signingKey ? { signer: createKmsSigner({ kms, keyId: signingKey }) } : {}),
    ...(authorization ? { authorization } : {}),
    idp: idp && {
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecretArn ? await fromSecretsManager(idp.clientSecretArn) : undefined,
      ...(idp.cognitoLogoutEndpoint ? { cognitoLogoutEndpoint: idp.cognitoLogoutEndpoint } : {}),
    },
    // In AWS a configured secret lives in Secrets Manager; `env` references are local-only (synth refuses them).
    configuredSecret: async (ref) => {
      if (!ref.secretArn) throw new Error('configured client secrets must be Secrets Manager ARNs in AWS');
      return fromSecretsManager(ref.secretArn);
    },
  });
  return { services, originSecret };
}
