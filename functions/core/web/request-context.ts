import { sha256Base64url } from '../crypto/hash.ts';
import { isRandomToken, randomToken } from '../crypto/random.ts';
import { readLimited } from '../http/body.ts';
import { HttpError } from '../http/errors.ts';
import type { Route, RouteTable } from '../routes.ts';
import type { Session, SessionStore } from '../store/sessions.ts';
import { isSameOriginPath } from '../store/state.ts';
import { cookieNames, readCookies, secureCookie } from './cookies.ts';

export const CONNECTIONS_PATH = '/.pomerium/connections';
// Room for a whole MCP authorization request (its query is capped at 3 KiB) coming back after sign-in.
const MAX_RETURN_TO = 4096;

/** How long the browser-binding cookie lives: long enough for any one sign-in or connect. */
const BINDING_MAX_AGE = 3600;

/**
 * `return_to` is accepted only as a path on the route's own origin: `//evil.example`,
 * `https://evil.example`, `/\evil.example`, control characters and overlong values are refused
 * (open-redirect protection). Absent → the default.
 */
export function parseReturnTo(
  value: string | null,
  route: Route,
  fallback = CONNECTIONS_PATH,
): { ok: true; path: string } | { ok: false } {
  if (value === null || value === '') return { ok: true, path: fallback };
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (value.length > MAX_RETURN_TO || /[\u0000-\u001f\u007f]/.test(value)) return { ok: false };
  if (!isSameOriginPath(value, route.origin)) return { ok: false };
  // Check the normalised form too: dot segments can turn "/..//evil.example" into "//evil.example".
  const url = new URL(value, route.origin);
  const path = `${url.pathname}${url.search}`;
  if (!isSameOriginPath(path, route.origin)) return { ok: false };
  return { ok: true, path };
}

/** The browser-binding value: the existing cookie, or a new one with its Set-Cookie. */
export function browserBinding(request: Request, route: Route): { value: string; setCookie: string } {
  const name = cookieNames(route.origin).binding;
  const existing = readCookies(request.headers.get('cookie')).get(name);
  // Re-sent every time a flow starts, so a flow begun late in the cookie's life does not come
  // back to a browser that has dropped it.
  const value = isRandomToken(existing) ? existing : randomToken();
  return { value, setCookie: secureCookie(name, value, BINDING_MAX_AGE) };
}

/** The binding cookie only if the browser sent one (callbacks must not mint a new one). */
export function existingBinding(request: Request, route: Route): string | undefined {
  const value = readCookies(request.headers.get('cookie')).get(cookieNames(route.origin).binding);
  return isRandomToken(value) ? value : undefined;
}

/** The signed-in person for this route, if the session cookie names a live session. */
export async function currentSession(
  request: Request,
  route: Route,
  sessions: SessionStore,
): Promise<{ id: string; session: Session } | undefined> {
  const id = readCookies(request.headers.get('cookie')).get(cookieNames(route.origin).session);
  if (!isRandomToken(id)) return undefined;
  const session = await sessions.getSession(id);
  return session ? { id, session } : undefined;
}

/**
 * A CSRF token for POST forms, derived from the HttpOnly session cookie value: a page can embed
 * it, another site cannot compute it.
 */
export function csrfToken(sessionId: string): string {
  return sha256Base64url(`mcp-edge/csrf/v1\n${sessionId}`);
}

/**
 * True when a state-changing POST comes from the route's own pages: the form token matches, and
 * the browser does not report a cross-site origin.
 */
export function isSameSitePost(
  request: Request,
  route: Route,
  form: URLSearchParams,
  sessionId: string,
): boolean {
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== route.origin) return false;
  const site = request.headers.get('sec-fetch-site');
  if (site !== null && site !== 'same-origin' && site !== 'none') return false;
  const given = form.get('csrf');
  return given !== null && given === csrfToken(sessionId);
}

/** Reads a small urlencoded form body; anything else or oversized → undefined. */
export async function readForm(request: Request, maxBytes = 4096): Promise<URLSearchParams | undefined> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.toLowerCase().startsWith('application/x-www-form-urlencoded')) return undefined;
  // Counted in bytes while read: an oversized body is refused without being held.
  const bytes = await readLimited(request, maxBytes);
  return bytes ? new URLSearchParams(new TextDecoder().decode(bytes)) : undefined;
}

/** True when the client asked for JSON rather than a page. */
export function wantsJson(request: Request): boolean {
  const accept = request.headers.get('accept') ?? '';
  return /application\/json/i.test(accept) && !/text\/html/i.test(accept);
}

/** The route a request's host names; any other host is a 404 (the same answer the CIMD gives). */
export function routeOf(routes: RouteTable, url: URL): Route {
  const route = routes.forHost(url.host);
  if (!route) throw new HttpError('unknown_route');
  return route;
}

/** Refuses every method but the endpoint's one with 405 and `Allow`. */
export function allowOnly(request: Request, method: 'GET' | 'POST'): void {
  if (request.method !== method) {
    throw new HttpError('method_not_allowed', { headers: { allow: method } });
  }
}
