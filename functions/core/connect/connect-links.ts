import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Route } from '../routes.ts';

/** The route's upstream-connect page. */
export const CONNECT_PATH = '/.pomerium/connect';

/** The record key's subkey label (record-mac.ts) the links are signed with, in every function. */
export const CONNECT_LINKS_KEY = 'connect-links/v1';

/** How long a signed connect link is honoured: as long as the proxy's sealed `requestState`. */
export const CONNECT_LINK_TTL_MS = 15 * 60_000;

/**
 * Connect links the gateway itself hands out — the proxy's URL elicitations and the authorize
 * step's chained connect — carry `exp` and `sig`, an HMAC over the route and every other parameter
 * under a key the functions derive from the stack's sealing secret. The connect page goes on
 * directly for such a link whichever site or app opened it; any other link a browser reports as
 * opened from elsewhere (`Sec-Fetch-Site` other than `same-origin`) asks the person first.
 */
export interface ConnectLinks {
  /** The route's connect URL with these parameters, signed. */
  url(route: Route, params: Readonly<Record<string, string>>, now: number): string;
  /** True for a link this gateway signed for this route, unexpired and unchanged. */
  verify(route: Route, url: URL, now: number): boolean;
}

export function createConnectLinks(key: Uint8Array): ConnectLinks {
  const mac = (route: Route, params: URLSearchParams) => {
    const pairs = [...params]
      .filter(([name]) => name !== 'sig')
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return createHmac('sha256', key)
      .update(JSON.stringify([route.origin, CONNECT_PATH, pairs]))
      .digest('base64url');
  };
  return {
    url(route, params, now) {
      const query = new URLSearchParams(params);
      query.set('exp', String(now + CONNECT_LINK_TTL_MS));
      query.set('sig', mac(route, query));
      return `${route.origin}${CONNECT_PATH}?${query}`;
    },
    verify(route, url, now) {
      if (url.pathname !== CONNECT_PATH) return false;
      const names = [...url.searchParams.keys()];
      // A repeated parameter could be read differently by the signer and the page.
      if (new Set(names).size !== names.length) return false;
      const sig = url.searchParams.get('sig');
      const exp = Number(url.searchParams.get('exp'));
      // A minute of slack for the clocks of the function that signed and this one.
      if (!sig || !Number.isSafeInteger(exp) || exp < now || exp > now + CONNECT_LINK_TTL_MS + 60_000)
        return false;
      const given = Buffer.from(sig);
      const expected = Buffer.from(mac(route, url.searchParams));
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}
