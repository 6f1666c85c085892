import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createCimdHandler } from '../cimd/app.ts';
import type { GatewayConfig } from '../core/config/schema.ts';
import type { FunctionName } from '../core/endpoints.ts';

export type LocalHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/**
 * One handler per function of the endpoint table, built with the same factories the Lambda
 * entry points use. The `Record` type makes a new function without a local handler a type error.
 */
export function buildLocalHandlers(config: GatewayConfig): Record<FunctionName, LocalHandler> {
  return {
    cimd: createCimdHandler({ routes: config.routes, originSecret: undefined }),
  };
}
