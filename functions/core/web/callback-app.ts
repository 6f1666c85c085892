import { type ConnectDeps, finishConnect } from '../connect/connect.ts';
import type { RouteTable } from '../routes.ts';
import type { SessionStore } from '../store/sessions.ts';
import { errorPage, redirect } from './html.ts';
import { allowOnly, currentSession, existingBinding, routeOf } from './request-context.ts';

export interface CallbackAppDeps extends ConnectDeps {
  readonly routes: RouteTable;
  readonly sessions: SessionStore;
}

const STATUS: Record<string, number> = {
  authorization_denied: 403,
  token_exchange_failed: 502,
};

const TITLES: Record<string, string> = {
  authorization_denied: 'Connection not allowed',
  token_exchange_failed: 'Connection failed',
};

/**
 * `GET /.pomerium/oauth/callback`: where the upstream authorization server sends the person back.
 * Refusals are pages for the person, and nothing is stored for them.
 */
export function createCallbackApp(deps: CallbackAppDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    allowOnly(request, 'GET');
    if (url.search.length > 8192) {
      return errorPage(
        414,
        'Connection refused',
        'The authorization answer is too long.',
        'request_too_large',
      );
    }
    const current = await currentSession(request, route, deps.sessions);
    if (!current) {
      return errorPage(
        401,
        'Sign in first',
        'Sign in to this gateway in this browser, then connect again.',
        'login_required',
      );
    }
    const binding = existingBinding(request, route);
    if (!binding) {
      return errorPage(
        400,
        'Connection refused',
        'This browser did not start this connection (or blocks cookies). Start again here.',
        'state_other_browser',
      );
    }
    const finished = await finishConnect(deps, {
      route,
      userId: current.session.userId,
      binding,
      callbackUrl: url,
    });
    if (!finished.ok) {
      return errorPage(
        STATUS[finished.code] ?? 400,
        TITLES[finished.code] ?? 'Connection refused',
        finished.message,
        finished.code,
      );
    }
    return redirect(finished.returnTo);
  };
}
