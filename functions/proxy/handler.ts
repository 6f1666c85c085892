import { proxyLambdaServices } from '../adapters/proxy-lambda.ts';
import { createProxyHandler } from './app.ts';

const { proxy, originSecret } = await proxyLambdaServices(process.env);

/**
 * Lambda entry point: response streaming (API Gateway `ResponseTransferMode.STREAM`). Its
 * dependencies are loaded once per cold start; a warm call makes no table, KMS or Secrets Manager
 * call.
 */
export const handler = awslambda.streamifyResponse(
  createProxyHandler(proxy, originSecret, {
    from: (stream, metadata) => awslambda.HttpResponseStream.from(stream, { ...metadata }),
  }),
);
