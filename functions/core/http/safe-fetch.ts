import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import type { LookupFunction } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { classifyAddress, isIpLiteral } from './address.ts';

/**
 * An SSRF-safe GET for documents at addresses we did not configure, such as an MCP client's Client
 * ID Metadata Document (DESIGN.md "CIMD rules", fetching; STYLE.md §4).
 *
 * The host is resolved here, every address is classified, and the socket is then pinned to the
 * checked addresses through the request's `lookup` hook, while TLS still verifies the certificate
 * against the host name. So there is no second resolution an attacker's DNS could answer
 * differently (no DNS-rebinding gap). Redirects are never followed, only `200` counts, the body is
 * capped both by `Content-Length` and by counting, and one timer covers resolution, connection,
 * TLS, headers and body. Expected failures are results, never exceptions.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address it has (the default uses the system resolver). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface SafeFetchOptions {
  /** Allow loopback and private addresses. Local development and tests only. Default `false`. */
  allowPrivateNetwork?: boolean;
  /** For the whole exchange, resolution to last byte. Default 10 000 ms. */
  timeoutMs?: number;
  /** The most body bytes accepted. Default 5120 (the CIMD limit). */
  maxBytes?: number;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots: the local gateway's CA, tests. */
  ca?: string | string[];
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Replaces DNS resolution, for tests. */
  lookup?: Resolver;
  /** Default GET. OAuth token, registration and revocation requests POST. */
  method?: 'GET' | 'POST';
  body?: string | Uint8Array;
  /**
   * Return every non-redirect status as a result instead of only `200` (OAuth endpoints answer
   * errors as 4xx JSON that the protocol library must read). Redirects are still refused.
   */
  anyStatus?: boolean;
  /** Also fetch plain `http:` URLs: only for routes that opted into `allowInsecureUpstream`. */
  allowHttp?: boolean;
  /** The caller's own deadline (e.g. a refresh lease); ends the exchange like the timeout does. */
  signal?: AbortSignal;
}

export type SafeFetchErrorCode =
  | 'fetch.invalid_url'
  | 'fetch.not_https'
  | 'fetch.dns'
  | 'ssrf.private_address'
  | 'fetch.redirect_refused'
  | 'fetch.status'
  | 'fetch.too_large'
  | 'fetch.timeout'
  | 'fetch.tls'
  | 'fetch.network';

export type SafeFetchResult =
  | { ok: true; status: number; headers: Headers; body: Uint8Array; address: string }
  | { ok: false; code: SafeFetchErrorCode; message: string; status?: number; address?: string };

type Failure = Extract<SafeFetchResult, { ok: false }>;

export const DEFAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_BYTES = 5120;

const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((entry) => ({
    address: entry.address,
    family: entry.family === 6 ? 6 : 4,
  }));

/** Fetches `url` under the rules above (GET unless `method` says otherwise). */
export async function safeFetch(url: string, options: SafeFetchOptions = {}): Promise<SafeFetchResult> {
  const controller = new AbortController();
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const onCallerAbort = () => controller.abort();
  if (options.signal?.aborted) controller.abort();
  options.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const timedOut = (): Failure => ({
    ok: false,
    code: 'fetch.timeout',
    message: `no complete response from ${url} within ${timeoutMs} ms`,
  });
  try {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { ok: false, code: 'fetch.invalid_url', message: `not a URL: ${JSON.stringify(url)}` };
    }
    if (target.protocol !== 'https:' && !(options.allowHttp && target.protocol === 'http:')) {
      return {
        ok: false,
        code: 'fetch.not_https',
        message: `only https URLs are fetched, got ${target.protocol}`,
      };
    }

    const hostname = target.hostname.replace(/^\[(.*)\]$/, '$1');
    let addresses: ResolvedAddress[];
    if (isIpLiteral(hostname)) {
      addresses = [{ address: hostname, family: hostname.includes(':') ? 6 : 4 }];
    } else {
      const resolved = await untilAborted(
        (options.lookup ?? systemResolver)(hostname),
        controller.signal,
      ).catch((error: unknown) => error as Error);
      if (controller.signal.aborted) return timedOut();
      if (resolved instanceof Error || resolved.length === 0) {
        const reason =
          resolved instanceof Error
            ? ((resolved as NodeJS.ErrnoException).code ?? resolved.message)
            : 'no addresses';
        return { ok: false, code: 'fetch.dns', message: `could not resolve ${hostname} (${reason})` };
      }
      addresses = resolved;
    }

    if (!options.allowPrivateNetwork) {
      for (const { address } of addresses) {
        const verdict = classifyAddress(address);
        if (!verdict.public) {
          return {
            ok: false,
            code: 'ssrf.private_address',
            message: `${hostname} resolves to ${address} (${verdict.range}), which is not a public address`,
            address,
          };
        }
      }
    }

    return await get(target, hostname, addresses, options, controller.signal, timedOut);
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onCallerAbort);
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const contexts = new Map<string, SecureContext>();

/** One TLS context per set of extra CAs (building one processes every bundled root: slow). */
function secureContextFor(extraCa: readonly string[]): SecureContext {
  const key = extraCa.join('\n');
  let context = contexts.get(key);
  if (!context) {
    context = createSecureContext({ ca: [...rootCertificates, ...extraCa] });
    if (contexts.size > 16) contexts.clear();
    contexts.set(key, context);
  }
  return context;
}

/** Connects only to `addresses`, which have been checked, and reads at most `maxBytes`. */
function get(
  target: URL,
  hostname: string,
  addresses: ResolvedAddress[],
  options: SafeFetchOptions,
  signal: AbortSignal,
  timedOut: () => Failure,
): Promise<SafeFetchResult> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const extraCa = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca];

  // The pinned resolver: whatever the socket layer asks, it gets the addresses checked above.
  const pinned = ((
    _host: string,
    lookupOptions: { all?: boolean },
    callback: (...args: unknown[]) => void,
  ) => {
    if (lookupOptions.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  }) as unknown as LookupFunction;

  if (signal.aborted) return Promise.resolve(timedOut());
  return new Promise<SafeFetchResult>((resolve) => {
    let settled = false;
    const finish = (result: SafeFetchResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      resolve(result);
      req.destroy();
    };
    const onAbort = () => finish(timedOut());
    signal.addEventListener('abort', onAbort, { once: true });

    const send = target.protocol === 'http:' ? httpRequest : request;
    const req = send({
      host: hostname,
      port: target.port || (target.protocol === 'http:' ? 80 : 443),
      path: `${target.pathname}${target.search}`,
      method: options.method ?? 'GET',
      lookup: pinned,
      agent: false,
      ...(extraCa.length ? { secureContext: secureContextFor(extraCa) } : {}),
      headers: {
        accept: 'application/json',
        'user-agent': 'mcp-edge',
        ...options.headers,
        host: target.host,
      },
    });

    req.on('error', (error: NodeJS.ErrnoException) => {
      if (signal.aborted) return finish(timedOut());
      finish(networkFailure(error, target));
    });

    req.on('response', (res: IncomingMessage) => {
      const address = res.socket.remoteAddress ?? addresses[0]!.address;
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        const location = res.headers.location;
        return finish({
          ok: false,
          code: 'fetch.redirect_refused',
          status,
          address,
          message: `${target.href} answered ${status} redirecting to ${location ? JSON.stringify(location.slice(0, 200)) : '(no Location)'}; redirects are not followed`,
        });
      }
      if (status !== 200 && !options.anyStatus) {
        return finish({
          ok: false,
          code: 'fetch.status',
          status,
          address,
          message: `${target.href} answered ${status}${res.statusMessage ? ` ${res.statusMessage.slice(0, 60)}` : ''}; only 200 is accepted`,
        });
      }
      const declared = Number(res.headers['content-length']);
      const tooLarge = (size: string): Failure => ({
        ok: false,
        code: 'fetch.too_large',
        status,
        address,
        message: `${target.href} sent ${size} bytes; at most ${maxBytes} are accepted`,
      });
      if (Number.isFinite(declared) && declared > maxBytes) return finish(tooLarge(String(declared)));

      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        received += chunk.byteLength;
        if (received > maxBytes) return finish(tooLarge(`more than ${maxBytes}`));
        chunks.push(chunk);
      });
      res.on('error', (error: NodeJS.ErrnoException) => finish(networkFailure(error, target)));
      res.on('aborted', () =>
        finish({
          ok: false,
          code: 'fetch.network',
          address,
          message: `${target.href} closed the response early`,
        }),
      );
      res.on('end', () => {
        finish({
          ok: true,
          status,
          headers: toHeaders(res.rawHeaders),
          body: new Uint8Array(Buffer.concat(chunks)),
          address,
        });
      });
    });

    req.end(options.body);
  });
}

const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|^ERR_TLS_|^ERR_SSL_/;

function networkFailure(error: NodeJS.ErrnoException, target: URL): Failure {
  const code = error.code ?? 'unknown';
  if (TLS_ERROR.test(code)) {
    return {
      ok: false,
      code: 'fetch.tls',
      message: `TLS with ${target.host} failed (${code}): ${error.message}`,
    };
  }
  return { ok: false, code: 'fetch.network', message: `could not fetch ${target.href} (${code})` };
}

function toHeaders(raw: string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // A header the Fetch API cannot represent is dropped; nothing downstream needs it.
    }
  }
  return headers;
}
