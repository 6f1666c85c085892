import type { KeyObject } from 'node:crypto';
import { type ResponseStreamRuntime, streamingWebHandler } from '../adapters/streaming.ts';
import { createAccessTokenVerifier } from '../core/authorization/access-token.ts';
import type { RouteConfig } from '../core/config/schema.ts';
import { createMcpEndpoint } from '../core/proxy/mcp-endpoint.ts';
import { RouteTable } from '../core/routes.ts';

export interface ProxyHandlerOptions {
  readonly routes: readonly RouteConfig[];
  /** The gateway's token-signing public key (KMS `GetPublicKey` in AWS), fetched once. */
  readonly publicKey: () => Promise<KeyObject>;
  /** The CloudFront origin secret; `undefined` only in the local gateway. */
  readonly originSecret: string | undefined;
  readonly runtime: ResponseStreamRuntime;
  readonly now?: () => number;
}

/** The proxy function: each route's MCP endpoint, response-streaming. */
export function createProxyHandler(options: ProxyHandlerOptions) {
  const verify = createAccessTokenVerifier({ publicKey: options.publicKey, now: options.now });
  const app = createMcpEndpoint({ routes: new RouteTable(options.routes), verify });
  return streamingWebHandler(app, options.originSecret, options.runtime);
}
