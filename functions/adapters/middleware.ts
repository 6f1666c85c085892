import { timingSafeEqual } from 'node:crypto';
import type middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { errorToResponse, HttpError } from '../core/http/errors.ts';
import { responseToResult } from './apigateway.ts';

type Middleware = middy.MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult>;

/** The header CloudFront adds to every origin request (lib/route-domain.ts). */
export const ORIGIN_VERIFY_HEADER = 'x-mcp-edge-origin-verify';

function equalSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when the event carries CloudFront's origin secret, or when the check is off (`undefined`). */
export function cameThroughCloudFront(event: APIGatewayProxyEvent, secret: string | undefined): boolean {
  if (secret === undefined) return true;
  const given = Object.entries(event.headers ?? {}).find(
    ([k]) => k.toLowerCase() === ORIGIN_VERIFY_HEADER,
  )?.[1];
  return given !== undefined && equalSecret(given, secret);
}

/** The answer to a request that bypassed CloudFront. */
export function bypassRefusal(): Response {
  return new HttpError('origin_unverified').toResponse();
}

/**
 * Refuses requests that did not come through the route's CloudFront distribution, which is
 * the only place the secret header is added. `undefined` turns the check off: only the
 * local gateway does that; Lambda entry points require the secret at start-up.
 */
export function originVerify(secret: string | undefined): Middleware {
  return {
    before: async (request) => {
      if (cameThroughCloudFront(request.event, secret)) return;
      return responseToResult(bypassRefusal());
    },
  };
}

/** The one translator at the handler boundary: anything thrown becomes a clean JSON answer, never a stack. */
export function errorBoundary(): Middleware {
  return {
    // What was thrown is logged by the request's telemetry (functions/adapters/web-handler.ts).
    onError: async (request) => {
      request.response = await responseToResult(errorToResponse(request.error));
    },
  };
}
