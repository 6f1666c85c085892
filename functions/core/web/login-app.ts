import type { SignIn } from '../auth/signin.ts';
import { HttpError } from '../http/errors.ts';
import type { RouteTable } from '../routes.ts';
import type { SessionStore } from '../store/sessions.ts';
import { clearCookie, cookieNames, secureCookie } from './cookies.ts';
import { html, page, redirect, refusalPage } from './html.ts';
import {
  allowOnly,
  browserBinding,
  currentSession,
  existingBinding,
  isSameSitePost,
  parseReturnTo,
  readForm,
  routeOf,
} from './request-context.ts';

export const LOGIN_PATH = '/.pomerium/login';
export const LOGOUT_PATH = '/.pomerium/logout';

export interface LoginAppDeps {
  readonly routes: RouteTable;
  readonly sessions: SessionStore;
  readonly signIn: SignIn;
}

/** The login function: sign-in start, the identity provider's callback, and sign-out. */
export function createLoginApp(deps: LoginAppDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    const names = cookieNames(route.origin);

    if (url.pathname === LOGIN_PATH) {
      allowOnly(request, 'GET');
      const returnTo = parseReturnTo(url.searchParams.get('return_to'), route);
      if (!returnTo.ok) return refusalPage('invalid_return_to');
      const binding = browserBinding(request, route);
      const started = await deps.signIn.start(route, returnTo.path, binding.value);
      if (!started.ok) return refusalPage(started.code);
      return redirect(started.location, {}, [binding.setCookie]);
    }

    if (url.pathname === `${LOGIN_PATH}/callback`) {
      allowOnly(request, 'GET');
      const binding = existingBinding(request, route);
      if (!binding) return refusalPage('login_other_browser');
      const finished = await deps.signIn.finish(route, url, binding);
      if (!finished.ok) return refusalPage(finished.code);
      const maxAge = Math.max(0, Math.floor((finished.sessionExpiresAt - Date.now()) / 1000));
      return redirect(finished.returnTo, {}, [secureCookie(names.session, finished.sessionId, maxAge)]);
    }

    if (url.pathname === LOGOUT_PATH) {
      allowOnly(request, 'POST');
      const current = await currentSession(request, route, deps.sessions);
      const form = await readForm(request);
      if (current && (!form || !isSameSitePost(request, route, form, current.id))) return refusalPage('csrf');
      if (current) await deps.sessions.deleteSession(current.id);
      const done = page(200, 'Signed out', html`<p>You are signed out of ${route.host}.</p>`);
      done.headers.append('set-cookie', clearCookie(names.session));
      return done;
    }

    throw new HttpError('not_found');
  };
}
