import { lookup as dnsLookup } from 'node:dns';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { createSecureContext, rootCertificates } from 'node:tls';
import { classifyAddress } from '../http/address.ts';

/**
 * The proxy's HTTP client toward upstream MCP servers: `node:http(s)` with keep-alive connection
 * pools (no per-call TLS handshake), bodies streamed both ways, and the SSRF guard in the socket's
 * own address lookup — every address a connection would use is checked (unless the route opted
 * into private networks), so a name that resolves to a private address is refused at connect time.
 * Redirects are never followed (a 3xx is returned as is). One timer covers connecting and the
 * response head; a body may then stream for as long as the caller's signal allows.
 */
export interface UpstreamRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: Uint8Array;
  /** Until the response head arrives. */
  readonly headersTimeoutMs: number;
  /** Ends the exchange (client went away, function deadline). */
  readonly signal?: AbortSignal;
}

export type UpstreamResult =
  | {
      readonly ok: true;
      readonly status: number;
      readonly headers: IncomingHttpHeaders;
      readonly body: Readable;
    }
  | {
      readonly ok: false;
      /** refused: could not connect or the connection broke; timeout: no answer in time; invalid: not HTTP; blocked: SSRF guard. */
      readonly code: 'upstream_refused' | 'upstream_timeout' | 'upstream_invalid' | 'upstream_blocked';
      readonly message: string;
    };

export interface UpstreamClientOptions {
  readonly allowPrivateNetwork?: boolean;
  /** Extra CA (PEM) trusted besides Node's bundled roots: the local development CA. */
  readonly ca?: string;
  readonly maxSockets?: number;
}

class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = 'EMCPEDGEBLOCKED';
}

/** `dns.lookup` that refuses non-public addresses (all of them must be public). */
function guardedLookup(allowPrivate: boolean): LookupFunction {
  return ((hostname: string, options: { all?: boolean } & object, callback: (...args: unknown[]) => void) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error);
      if (!allowPrivate) {
        const blocked = addresses.find((a) => !classifyAddress(a.address).public);
        if (blocked) return callback(new BlockedAddressError(`${hostname} resolves to a non-public address`));
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  }) as LookupFunction;
}

export function createUpstreamClient(options: UpstreamClientOptions = {}) {
  const lookup = guardedLookup(options.allowPrivateNetwork === true);
  const maxSockets = options.maxSockets ?? 128;
  // One TLS context for the extra CA, built once: a `ca` option would be re-processed (all the
  // bundled roots) on every request to name the pool, and on every new connection.
  const secureContext = options.ca
    ? createSecureContext({ ca: [...rootCertificates, options.ca] })
    : undefined;
  const https = new HttpsAgent({
    keepAlive: true,
    maxSockets,
    lookup,
    ...(secureContext ? { secureContext } : {}),
  } as ConstructorParameters<typeof HttpsAgent>[0]);
  const http = new HttpAgent({ keepAlive: true, maxSockets, lookup } as ConstructorParameters<
    typeof HttpAgent
  >[0]);

  /**
   * Sends the request; when a kept-alive connection turns out to have been closed by the upstream
   * (reset before any answer on a reused socket), once more on a fresh connection: the request
   * never reached the upstream.
   */
  async function send(request: UpstreamRequest): Promise<UpstreamResult> {
    const first = await attempt(request);
    if (first.ok || first.code !== 'upstream_refused' || !('staleSocket' in first)) return first;
    return attempt(request);
  }

  function attempt(request: UpstreamRequest): Promise<UpstreamResult & { staleSocket?: true }> {
    const { url } = request;
    // An IP literal never goes through `lookup`: check it here.
    const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (/^[\d.]+$|:/.test(literal) && !options.allowPrivateNetwork && !classifyAddress(literal).public) {
      return Promise.resolve({
        ok: false,
        code: 'upstream_blocked',
        message: 'the upstream address is not public',
      });
    }
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (result: UpstreamResult & { staleSocket?: true }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
      let req: ReturnType<typeof make>;
      try {
        req = make(url, {
          method: request.method,
          headers: {
            ...request.headers,
            ...(request.body ? { 'content-length': String(request.body.byteLength) } : {}),
          },
          agent: url.protocol === 'https:' ? https : http,
          signal: request.signal,
        });
      } catch {
        // A header value node:http refuses: the request cannot be sent as it is.
        finish({ ok: false, code: 'upstream_invalid', message: 'the request could not be sent upstream' });
        return;
      }
      timer = setTimeout(() => {
        finish({ ok: false, code: 'upstream_timeout', message: 'the upstream did not answer in time' });
        req.destroy();
      }, request.headersTimeoutMs);
      req.on('response', (res) => {
        finish({ ok: true, status: res.statusCode ?? 502, headers: res.headers, body: res });
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (error instanceof BlockedAddressError || error.code === 'EMCPEDGEBLOCKED') {
          finish({ ok: false, code: 'upstream_blocked', message: 'the upstream address is not public' });
        } else if (error.code?.startsWith('HPE_')) {
          finish({ ok: false, code: 'upstream_invalid', message: 'the upstream answer is not valid HTTP' });
        } else if (error.name === 'AbortError') {
          finish({ ok: false, code: 'upstream_timeout', message: 'the request was cancelled' });
        } else if (req.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) {
          finish({
            ok: false,
            code: 'upstream_refused',
            message: 'a kept-alive connection was closed',
            staleSocket: true,
          });
        } else {
          finish({
            ok: false,
            code: 'upstream_refused',
            message: `the upstream could not be reached (${error.code ?? 'error'})`,
          });
        }
      });
      req.end(request.body ? Buffer.from(request.body) : undefined);
    });
  }

  return {
    send,
    close(): void {
      https.destroy();
      http.destroy();
    },
  };
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
