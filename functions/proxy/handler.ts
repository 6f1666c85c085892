import { KMSClient } from '@aws-sdk/client-kms';
import { lambdaSettings } from '../adapters/lambda-env.ts';
import { createKmsSigner } from '../core/authorization/signer.ts';
import { createProxyHandler } from './app.ts';

const { routes, originSecret } = lambdaSettings(process.env);
const keyId = process.env.MCP_EDGE_SIGNING_KEY_ARN;
if (!keyId) throw new Error('MCP_EDGE_SIGNING_KEY_ARN is not set');
// Only GetPublicKey is ever called (the role may do nothing else with the key).
const signingKey = createKmsSigner({ kms: new KMSClient({}), keyId });

/** Lambda entry point: response streaming (API Gateway `ResponseTransferMode.STREAM`). */
export const handler = awslambda.streamifyResponse(
  createProxyHandler({
    routes,
    publicKey: () => signingKey.publicKey(),
    originSecret,
    runtime: { from: (stream, metadata) => awslambda.HttpResponseStream.from(stream, { ...metadata }) },
  }),
);
