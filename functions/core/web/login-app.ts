import { SIGN_IN_TTL_SECONDS } from '../auth/sign-in-transaction.ts';
import { LOGOUT_PATH, type SignIn } from '../auth/signin.ts';
import { HttpError } from '../http/errors.ts';
import type { Route, RouteTable } from '../routes.ts';
import type { SessionStore } from '../store/sessions.ts';
import { type CookieNames, clearCookie, cookieNames, readCookies, secureCookie } from './cookies.ts';
import { html, page, redirect, refusalPage } from './html.ts';
import {
  allowOnly,
  browserBinding,
  csrfToken,
  currentSession,
  existingBinding,
  isSameSitePost,
  parseReturnTo,
  readForm,
  routeOf,
} from './request-context.ts';

export const LOGIN_PATH = '/.pomerium/login';
export { LOGOUT_PATH };

/**
 * How long a sign-out's "fresh login next time" mark lasts in the browser: longer than identity
 * providers usually keep a session, so the mark outlives the session it guards against.
 */
const FRESH_LOGIN_MAX_AGE = 30 * 86_400;

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
      const freshLogin = readCookies(request.headers.get('cookie')).get(names.freshLogin) === '1';
      // Nothing is stored: the transaction travels sealed in its own cookie (one per route; a newer
      // sign-in in another tab replaces an older one).
      const started = await deps.signIn.start(route, returnTo.path, binding.value, { freshLogin });
      if (!started.ok) return refusalPage(started.code);
      return redirect(started.location, {}, [
        binding.setCookie,
        secureCookie(names.signIn, started.transaction, SIGN_IN_TTL_SECONDS),
      ]);
    }

    if (url.pathname === `${LOGIN_PATH}/callback`) {
      allowOnly(request, 'GET');
      const binding = existingBinding(request, route);
      if (!binding) return refusalPage('login_other_browser');
      const transaction = readCookies(request.headers.get('cookie')).get(names.signIn);
      const finished = await deps.signIn.finish(route, url, binding, transaction);
      if (!finished.ok) {
        // A transaction that was presented with its own state is used up whatever the outcome; a
        // callback that did not present it (forged, stale, another tab's) leaves it for the real one.
        const used = finished.code !== 'login_state_invalid';
        const refused = refusalPage(
          finished.code,
          used ? { headers: { 'set-cookie': clearCookie(names.signIn) } } : {},
        );
        // Not fresh (a sign-out elsewhere): the next sign-in in this browser asks the provider to
        // ask for credentials (prompt=login, max_age=0).
        if (finished.code === 'login_not_fresh') {
          refused.headers.append('set-cookie', secureCookie(names.freshLogin, '1', FRESH_LOGIN_MAX_AGE));
        }
        return refused;
      }
      const maxAge = Math.max(0, Math.floor((finished.sessionExpiresAt - Date.now()) / 1000));
      return redirect(finished.returnTo, {}, [
        secureCookie(names.session, finished.sessionId, maxAge),
        clearCookie(names.signIn),
        clearCookie(names.freshLogin),
      ]);
    }

    if (url.pathname === LOGOUT_PATH) {
      if (request.method === 'GET') return signOutPage(deps, request, route);
      if (request.method !== 'POST')
        throw new HttpError('method_not_allowed', { headers: { allow: 'GET, POST' } });
      return signOut(deps, request, route, names);
    }

    throw new HttpError('not_found');
  };
}

/**
 * `GET /.pomerium/logout` changes nothing (a link or an image cannot sign anyone out): signed in,
 * it offers the sign-out forms; signed out, it is where the identity provider sends the browser
 * back after ending its session there.
 */
async function signOutPage(deps: LoginAppDeps, request: Request, route: Route): Promise<Response> {
  const current = await currentSession(request, route, deps.sessions);
  if (!current) {
    return page(
      200,
      'Signed out',
      html`<p>You are signed out of ${route.host}.</p><p><a href="${LOGIN_PATH}">Sign in again</a></p>`,
    );
  }
  const who = current.session.email ?? current.session.name ?? current.session.userId;
  return page(
    200,
    'Sign out',
    html`<p>Signed in to ${route.host} as <strong>${who}</strong>.</p>${signOutForms(csrfToken(current.id))}`,
  );
}

/** The sign-out buttons (the connections page shows them too): POST forms with the session's CSRF token. */
export function signOutForms(csrf: string) {
  return html`<form method="post" action="${LOGOUT_PATH}"><input type="hidden" name="csrf" value="${csrf}">
<p><button class="secondary" type="submit">Sign out</button></p></form>
<form method="post" action="${LOGOUT_PATH}"><input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="everywhere" value="1">
<p><button class="secondary" type="submit">Sign out everywhere</button>
Ends every session you have on this gateway: in every browser and on every one of its routes. The
apps you authorized keep their access until you revoke them.</p></form>`;
}

/**
 * `POST /.pomerium/logout`: ends this session (or, with `everywhere`, every session of the person),
 * marks this browser so its next sign-in on this route shows the identity provider's login form,
 * and sends the browser on to end the provider's session too when the provider offers that.
 */
async function signOut(
  deps: LoginAppDeps,
  request: Request,
  route: Route,
  names: CookieNames,
): Promise<Response> {
  const current = await currentSession(request, route, deps.sessions);
  const form = await readForm(request);
  if (!current) {
    // Nothing to end here (already signed out, or the session expired). Without a session there is
    // no CSRF token to check, so this request sends nobody to the identity provider.
    const done = page(200, 'Signed out', html`<p>You are signed out of ${route.host}.</p>`);
    done.headers.append('set-cookie', clearCookie(names.session));
    return done;
  }
  if (!form || !isSameSitePost(request, route, form, current.id)) return refusalPage('csrf');
  const everywhere = form.get('everywhere') === '1';
  if (everywhere) await deps.sessions.deleteUserSessions(current.session.userId);
  else await deps.sessions.deleteSession(current.id);
  const providerLogout = await deps.signIn.logoutUrl(`${route.origin}${LOGOUT_PATH}`);
  const scope = everywhere
    ? html`<p>You are signed out of every route of this gateway, in every browser. (A session at the
identity provider in another browser is not ended from here.)</p>`
    : html`<p>You are signed out of ${route.host}.</p>`;
  // A page that moves on by itself, not a redirect: the sign-out form's submission is under its
  // page's CSP `form-action 'self'`, which a redirect to the identity provider would break.
  const done = providerLogout
    ? page(
        200,
        'Signed out',
        html`${scope}<p>Next, your session at the identity provider ends too.</p>
<p><a class="button" href="${providerLogout}">Continue</a></p>`,
        {},
        html`<meta http-equiv="refresh" content="0;url=${providerLogout}">`,
      )
    : page(
        200,
        'Signed out',
        html`${scope}<p>The identity provider offers no sign-out, so its session in this browser may
still be open: the next sign-in on ${route.host} asks for your credentials again, but another
route of this gateway may sign the next person in silently. Close the browser, or sign out at the
identity provider, to end it.</p>`,
      );
  done.headers.append('set-cookie', clearCookie(names.session));
  // A sign-in begun before the sign-out (and abandoned) must not finish silently afterwards.
  done.headers.append('set-cookie', clearCookie(names.signIn));
  done.headers.append('set-cookie', secureCookie(names.freshLogin, '1', FRESH_LOGIN_MAX_AGE));
  return done;
}
