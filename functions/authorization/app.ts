import type { Services } from '../adapters/services.ts';
import { webHandler } from '../adapters/web-handler.ts';
import { createAuthorizationApp } from '../core/web/authorization-app.ts';

/**
 * The authorization function: each route's protected resource and authorization server metadata,
 * `/.pomerium/mcp/authorize`, `token`, `register` and `revoke`.
 */
export function createAuthorizationHandler(services: Services, originSecret: string | undefined) {
  if (!services.authorization) throw new Error('the authorization function needs a token signer');
  return webHandler(createAuthorizationApp(services.authorization), originSecret, 'authorization');
}
