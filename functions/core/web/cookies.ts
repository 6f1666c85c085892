import { sha256Base64url } from '../crypto/hash.ts';

export interface CookieNames {
  /** The gateway session (its id). */
  readonly session: string;
  /** The browser binding: flows started here come back only to this browser. */
  readonly binding: string;
  /** The sealed sign-in transaction, while a sign-in is under way (functions/core/auth/sign-in-transaction.ts). */
  readonly signIn: string;
  /** Set by a sign-out: the next sign-in on this route must show the identity provider's login form. */
  readonly freshLogin: string;
}

/**
 * Cookie names for one route. `__Host-` pins a cookie to the exact host, Secure, Path=/ and no
 * Domain (RFC 6265bis §4.1.3.2). Browsers do not separate cookies by port, so the local gateway's
 * `https://localhost:PORT` routes would share one name; a short hash of the route origin in the
 * name keeps every route's cookies apart, in AWS and locally alike.
 */
export function cookieNames(origin: string): CookieNames {
  const suffix = sha256Base64url(origin).slice(0, 10);
  return {
    session: `__Host-mcp-edge-session-${suffix}`,
    binding: `__Host-mcp-edge-bind-${suffix}`,
    signIn: `__Host-mcp-edge-login-${suffix}`,
    freshLogin: `__Host-mcp-edge-fresh-${suffix}`,
  };
}

/**
 * The longest `Cookie` header worth parsing: API Gateway refuses a request whose request line and
 * headers pass 10,240 bytes (and the local gateway refuses it earlier), so a longer one never
 * comes through the gateway; all the gateway's cookies together must fit well inside this.
 */
export const MAX_COOKIE_HEADER_BYTES = 10_240;

/** Parses a `Cookie` header; the first value of a name wins, malformed pairs are skipped. */
export function readCookies(header: string | null): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header || header.length > MAX_COOKIE_HEADER_BYTES) return cookies;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!cookies.has(name)) cookies.set(name, value);
  }
  return cookies;
}

/** A `Set-Cookie` value for a secret the browser must keep to itself. */
export function secureCookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAgeSeconds}; Secure; HttpOnly; SameSite=Lax`;
}

export function clearCookie(name: string): string {
  return `${name}=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax`;
}
