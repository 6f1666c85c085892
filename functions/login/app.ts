import type { Services } from '../adapters/services.ts';
import { webHandler } from '../adapters/web-handler.ts';
import { refusalPage } from '../core/web/html.ts';
import { createLoginApp } from '../core/web/login-app.ts';

/** The login function: `/.pomerium/login`, `/.pomerium/login/callback`, `/.pomerium/logout`. */
export function createLoginHandler(services: Services, originSecret: string | undefined) {
  const app = services.login ? createLoginApp(services.login) : async () => refusalPage('idp_not_configured');
  return webHandler(app, originSecret, 'login');
}
