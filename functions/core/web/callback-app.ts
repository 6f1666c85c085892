import { type ConnectDeps, finishConnect } from '../connect/connect.ts';
import type { RouteTable } from '../routes.ts';
import type { SessionStore } from '../store/sessions.ts';
import { redirect, refusalPage } from './html.ts';
import { allowOnly, currentSession, existingBinding, routeOf } from './request-context.ts';

export interface CallbackAppDeps extends ConnectDeps {
  readonly routes: RouteTable;
  readonly sessions: SessionStore;
}

/**
 * `GET /.pomerium/oauth/callback`: where the upstream authorization server sends the person back.
 * Refusals are pages for the person, and nothing is stored for them.
 */
export function createCallbackApp(deps: CallbackAppDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    allowOnly(request, 'GET');
    if (url.search.length > 8192) return refusalPage('request_too_long');
    const current = await currentSession(request, route, deps.sessions);
    if (!current) return refusalPage('login_required');
    const binding = existingBinding(request, route);
    if (!binding) return refusalPage('state_other_browser');
    const finished = await finishConnect(deps, {
      route,
      userId: current.session.userId,
      binding,
      callbackUrl: url,
    });
    if (!finished.ok) return refusalPage(finished.code, { detail: finished.detail });
    return redirect(finished.returnTo);
  };
}
