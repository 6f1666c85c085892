import type { Services } from '../adapters/services.ts';
import { webHandler } from '../adapters/web-handler.ts';
import { createConnectApp } from '../core/web/connect-app.ts';

/** The connect function: `/.pomerium/connect`, `/.pomerium/connections`, `/.pomerium/disconnect`. */
export function createConnectHandler(services: Services, originSecret: string | undefined) {
  return webHandler(createConnectApp(services.connect), originSecret, 'connect');
}
