import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { HttpError } from '../core/http/errors.ts';
import { attachTelemetry } from '../core/telemetry.ts';
import { eventToRequest, responseToResult } from './apigateway.ts';
import { errorBoundary, originVerify } from './middleware.ts';
import { functionTelemetry, type RequestTelemetry } from './telemetry.ts';

/** A web-standard application: what every function's core exposes. */
export type WebApp = (request: Request) => Response | Promise<Response>;

export type WebHandler = (event: APIGatewayProxyEvent, context?: Context) => Promise<APIGatewayProxyResult>;

/** A result's header by lower-case name (the converter writes lower-case keys). */
function resultHeader(result: APIGatewayProxyResult, name: string): string | undefined {
  const value = result.multiValueHeaders?.[name]?.[0] ?? result.headers?.[name];
  return value === undefined ? undefined : String(value);
}

/**
 * Wraps a web-standard app as an API Gateway REST proxy handler: CloudFront origin check, the one
 * event↔Request converter, and the one error translator, inside the request's telemetry (one log
 * line and the metrics of each invocation, flushed before it returns; functions/adapters/telemetry.ts).
 * `originSecret` is `undefined` only in the local gateway; `name` is the function's name
 * (MCP_EDGE_FUNCTION in AWS).
 */
export function webHandler(
  app: WebApp,
  originSecret: string | undefined,
  name = process.env.MCP_EDGE_FUNCTION ?? 'gateway',
): WebHandler {
  const telemetry = functionTelemetry(name);
  const current = new WeakMap<APIGatewayProxyEvent, RequestTelemetry>();
  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
    .use(originVerify(originSecret))
    .use(errorBoundary())
    // Registered last, so its onError runs first: it sees what was thrown before it is translated.
    // An HttpError is a refusal like any other answer; anything else is a failure worth its stack.
    .use({
      onError: async (request) => {
        if (!(request.error instanceof HttpError)) current.get(request.event)?.unhandled(request.error);
      },
    })
    .handler(async (event) => {
      const request = eventToRequest(event);
      const t = current.get(event);
      if (t) attachTelemetry(request, t);
      return responseToResult(await app(request));
    });
  return async (event, context) => {
    const t = telemetry.begin(event, context);
    current.set(event, t);
    const result = await handler(event, context as Context);
    t.finish({
      status: result.statusCode,
      header: (h) => resultHeader(result, h),
      ...(result.isBase64Encoded ? {} : { body: result.body }),
    });
    return result;
  };
}
