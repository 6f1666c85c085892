import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Services } from '../adapters/services.ts';
import { createCallbackHandler } from '../callback/app.ts';
import { createCimdHandler } from '../cimd/app.ts';
import { createConnectHandler } from '../connect/app.ts';
import type { GatewayConfig } from '../core/config/schema.ts';
import type { FunctionName } from '../core/endpoints.ts';
import { createLoginHandler } from '../login/app.ts';

export type LocalHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * One handler per function of the endpoint table, built with the same factories the Lambda
 * entry points use. The `Record` type makes a new function without a local handler a type error.
 * The local gateway has no CloudFront in front, so there is no origin secret to check.
 */
export function buildLocalHandlers(
  config: GatewayConfig,
  services: Services,
): Record<FunctionName, LocalHandler> {
  return {
    cimd: createCimdHandler({ routes: config.routes, originSecret: undefined }),
    login: createLoginHandler(services, undefined),
    connect: createConnectHandler(services, undefined),
    callback: createCallbackHandler(services, undefined),
  };
}
