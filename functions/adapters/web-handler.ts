import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { eventToRequest, responseToResult } from './apigateway.ts';
import { errorBoundary, originVerify } from './middleware.ts';

/** A web-standard application: what every function's core exposes. */
export type WebApp = (request: Request) => Response | Promise<Response>;

/**
 * Wraps a web-standard app as an API Gateway REST proxy handler: CloudFront origin check, the one
 * event↔Request converter, and the one error translator. `originSecret` is `undefined` only in
 * the local gateway.
 */
export function webHandler(app: WebApp, originSecret: string | undefined) {
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(originVerify(originSecret))
    .use(errorBoundary())
    .handler(async (event) => responseToResult(await app(eventToRequest(event))));
}
