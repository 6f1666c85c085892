import type { OutboundFetch } from '../oauth/types.ts';
import { type SafeFetchOptions, safeFetch } from './safe-fetch.ts';

/** OAuth metadata and token responses are small; this bounds what a hostile server can make us buffer. */
export const OUTBOUND_MAX_BYTES = 256 * 1024;

/** Thrown like `fetch`'s network errors, with the SSRF guard's stable code. */
export class OutboundFetchError extends TypeError {
  override readonly name = 'OutboundFetchError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A WHATWG-shaped fetch for protocol libraries (oauth4webapi, jose) over {@link safeFetch}: every
 * resolved address checked (unless the route opted into private networks), the socket pinned to
 * the checked address, redirects refused, bodies bounded, one timeout. Non-2xx answers are
 * returned for the library to interpret.
 */
export function createOutboundFetch(
  options: Pick<SafeFetchOptions, 'allowPrivateNetwork' | 'ca' | 'timeoutMs' | 'allowHttp' | 'lookup'> = {},
): OutboundFetch {
  return async (input, init = {}) => {
    const url = String(input);
    const method = (init.method ?? 'GET').toUpperCase();
    if (method !== 'GET' && method !== 'POST') {
      throw new OutboundFetchError('fetch.method', `${method} is not used by the gateway's OAuth client`);
    }
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, key) => {
      headers[key] = value;
    });
    let body: string | Uint8Array | undefined;
    if (init.body instanceof URLSearchParams) {
      body = init.body.toString();
      headers['content-type'] ??= 'application/x-www-form-urlencoded;charset=UTF-8';
    } else if (typeof init.body === 'string' || init.body instanceof Uint8Array) {
      body = init.body;
    } else if (init.body != null) {
      throw new OutboundFetchError('fetch.body', 'unsupported request body type');
    }
    const result = await safeFetch(url, {
      ...options,
      method,
      headers,
      body,
      anyStatus: true,
      maxBytes: OUTBOUND_MAX_BYTES,
      signal: init.signal ?? undefined,
    });
    if (!result.ok) throw new OutboundFetchError(result.code, result.message);
    const empty = result.status === 204 || result.status === 304;
    return new Response(empty ? null : Buffer.from(result.body), {
      status: result.status,
      headers: result.headers,
    });
  };
}
