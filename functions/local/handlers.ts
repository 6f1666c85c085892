import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { Services } from '../adapters/services.ts';
import { createAuthorizationHandler } from '../authorization/app.ts';
import { createCallbackHandler } from '../callback/app.ts';
import { createCimdHandler } from '../cimd/app.ts';
import { createConnectHandler } from '../connect/app.ts';
import type { GatewayConfig } from '../core/config/schema.ts';
import type { FunctionName } from '../core/endpoints.ts';
import { createLoginHandler } from '../login/app.ts';
import { createProxyHandler } from '../proxy/app.ts';
import { localResponseStream } from './node-adapter.ts';

/** A function as the local gateway calls it: buffered (most), or response-streaming (the proxy). */
export type LocalHandler =
  | {
      readonly streaming: false;
      readonly handle: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
    }
  | {
      readonly streaming: true;
      readonly handle: (event: APIGatewayProxyEvent, stream: Writable, context: Context) => Promise<void>;
    };

const buffered = (
  handle: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>,
): LocalHandler => ({ streaming: false, handle });

function proxyOf(services: Services) {
  if (!services.proxy) throw new Error('the local gateway needs a token signer and a sealing key');
  return services.proxy;
}

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
    cimd: buffered(createCimdHandler({ routes: config.routes, originSecret: undefined })),
    login: buffered(createLoginHandler(services, undefined)),
    connect: buffered(createConnectHandler(services, undefined)),
    callback: buffered(createCallbackHandler(services, undefined)),
    authorization: buffered(createAuthorizationHandler(services, undefined)),
    proxy: {
      streaming: true,
      handle: createProxyHandler(proxyOf(services), undefined, localResponseStream),
    },
  };
}
