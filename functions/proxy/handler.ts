import { lambdaServices } from '../adapters/lambda-services.ts';
import { createProxyHandler } from './app.ts';

const { services, originSecret } = await lambdaServices(process.env);

/**
 * Lambda entry point: response streaming (API Gateway `ResponseTransferMode.STREAM`). Services,
 * the verifier's public key and the sealing key are loaded once per cold start; a warm call makes
 * no table, KMS or Secrets Manager call.
 */
export const handler = awslambda.streamifyResponse(
  createProxyHandler(services, originSecret, {
    from: (stream, metadata) => awslambda.HttpResponseStream.from(stream, { ...metadata }),
  }),
);
