import type { SignIn } from '../auth/signin.ts';
import { HttpError } from '../http/errors.ts';
import type { RouteTable } from '../routes.ts';
import type { SessionStore } from '../store/sessions.ts';
import { clearCookie, cookieNames, secureCookie } from './cookies.ts';
import { errorPage, html, page, redirect } from './html.ts';
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

const SIGN_IN_REFUSALS: Record<string, [number, string]> = {
  idp_unavailable: [502, 'The identity provider could not be reached. Try again in a moment.'],
  login_state_invalid: [400, 'This sign-in link is not valid or was already used. Start again.'],
  login_other_browser: [400, 'This sign-in was started in another browser. Start again here.'],
  login_expired: [400, 'This sign-in took too long. Start again.'],
  login_denied: [403, 'The identity provider did not sign you in.'],
  login_response_invalid: [400, 'The identity provider’s answer could not be used. Start again.'],
  id_token_invalid: [502, 'The identity provider’s ID token could not be verified.'],
};

/** The login function: sign-in start, the identity provider's callback, and sign-out. */
export function createLoginApp(deps: LoginAppDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    const names = cookieNames(route.origin);

    if (url.pathname === LOGIN_PATH) {
      allowOnly(request, 'GET');
      const returnTo = parseReturnTo(url.searchParams.get('return_to'), route);
      if (!returnTo.ok) {
        return errorPage(
          400,
          'Sign-in refused',
          'The return address must be a page of this gateway.',
          'invalid_return_to',
        );
      }
      const binding = browserBinding(request, route);
      const started = await deps.signIn.start(route, returnTo.path, binding.value);
      if (!started.ok) return errorPage(502, 'Sign-in unavailable', started.message, started.code);
      return redirect(started.location, {}, [binding.setCookie]);
    }

    if (url.pathname === `${LOGIN_PATH}/callback`) {
      allowOnly(request, 'GET');
      const binding = existingBinding(request, route);
      if (!binding) {
        return errorPage(
          400,
          'Sign-in refused',
          'This browser did not start this sign-in (or blocks cookies). Start again here.',
          'login_other_browser',
        );
      }
      const finished = await deps.signIn.finish(route, url, binding);
      if (!finished.ok) {
        const [status, message] = SIGN_IN_REFUSALS[finished.code] ?? [400, finished.message];
        return errorPage(status, 'Sign-in failed', message, finished.code);
      }
      const maxAge = Math.max(0, Math.floor((finished.sessionExpiresAt - Date.now()) / 1000));
      return redirect(finished.returnTo, {}, [secureCookie(names.session, finished.sessionId, maxAge)]);
    }

    if (url.pathname === LOGOUT_PATH) {
      allowOnly(request, 'POST');
      const current = await currentSession(request, route, deps.sessions);
      const form = await readForm(request);
      if (current && (!form || !isSameSitePost(request, route, form, current.id))) {
        return errorPage(
          403,
          'Sign-out refused',
          'This request did not come from this gateway’s page.',
          'csrf',
        );
      }
      if (current) await deps.sessions.deleteSession(current.id);
      const done = page(200, 'Signed out', html`<p>You are signed out of ${route.host}.</p>`);
      done.headers.append('set-cookie', clearCookie(names.session));
      return done;
    }

    throw new HttpError(404, 'not_found', 'Nothing is served at this path.');
  };
}
