import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { eventToRequest, responseToResult } from '../adapters/apigateway.ts';
import { errorBoundary, originVerify } from '../adapters/middleware.ts';
import { createCimdResponder } from '../core/cimd/serve.ts';
import type { RouteConfig } from '../core/config/schema.ts';
import { RouteTable } from '../core/routes.ts';

export interface CimdHandlerOptions {
  readonly routes: readonly RouteConfig[];
  /** The CloudFront origin secret; `undefined` only in the local gateway. */
  readonly originSecret: string | undefined;
}

/** The CIMD function: API Gateway event in, the route's client metadata document out. */
export function createCimdHandler(options: CimdHandlerOptions) {
  const respond = createCimdResponder(new RouteTable(options.routes));
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(originVerify(options.originSecret))
    .use(errorBoundary())
    .handler(async (event) => responseToResult(respond(eventToRequest(event))));
}
