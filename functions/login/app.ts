import type { Services } from '../adapters/services.ts';
import { webHandler } from '../adapters/web-handler.ts';
import { errorPage } from '../core/web/html.ts';
import { createLoginApp } from '../core/web/login-app.ts';

/** The login function: `/.pomerium/login`, `/.pomerium/login/callback`, `/.pomerium/logout`. */
export function createLoginHandler(services: Services, originSecret: string | undefined) {
  const app = services.login
    ? createLoginApp(services.login)
    : async () =>
        errorPage(
          503,
          'Sign-in is not configured',
          'This gateway has no identity provider configured. An operator must set "idp" in the gateway config.',
          'idp_not_configured',
        );
  return webHandler(app, originSecret);
}
