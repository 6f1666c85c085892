import { webHandler } from '../adapters/web-handler.ts';
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
  return webHandler(createCimdResponder(new RouteTable(options.routes)), options.originSecret, 'cimd');
}
