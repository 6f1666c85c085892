import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from '../../../functions/local/demo/https-listener.ts';
import {
  answerOutsideMcpPath,
  createBearerCheck,
  type DemoMcpServerOptions,
  resourceMetadata,
} from '../../../functions/local/demo/mcp-server.ts';
import { recordSecret } from '../secrets.ts';

/**
 * What the scripted upstream answers an MCP request with (after a valid bearer token). Each test
 * picks one with {@link ScriptedUpstream.use}; a function picks per request.
 */
export type Script =
  /** A JSON-RPC answer echoing the request id (202 for a notification). */
  | {
      readonly kind: 'json';
      readonly result?: unknown;
      readonly status?: number;
      readonly headers?: Record<string, string | string[]>;
    }
  /**
   * SSE: a JSON-RPC notification every `everyMs` (each carrying its send time, `params.sentAt`,
   * epoch ms with sub-ms precision), `count` of them (default: endless), then the response.
   * `gaps[i]` replaces the wait before event i; `splits[i]` writes event i in two halves with that
   * many ms between them (an event cut mid-way in the upstream's stream).
   */
  | {
      readonly kind: 'sse';
      readonly everyMs: number;
      readonly count?: number;
      readonly gaps?: Readonly<Record<number, number>>;
      readonly splits?: Readonly<Record<number, number>>;
    }
  /**
   * `total` bytes (exactly, for JSON) in `chunkBytes` writes, honouring backpressure;
   * `breakAfterBytes` drops the connection once that many bytes are out (a body cut mid-way).
   */
  | {
      readonly kind: 'bytes';
      readonly total: number;
      readonly chunkBytes: number;
      readonly format: 'json' | 'sse';
      readonly breakAfterBytes?: number;
    }
  /** Any status with a text body (5xx for failures). */
  | { readonly kind: 'status'; readonly status: number; readonly body?: string }
  /** Bytes that are not HTTP, written on the raw connection, which is then closed. */
  | { readonly kind: 'garbage' }
  /** The connection is dropped without an answer. */
  | { readonly kind: 'hang-up' }
  /** No answer (`afterMs` absent), or `then` after `afterMs`. */
  | { readonly kind: 'slow'; readonly afterMs?: number; readonly then?: Script }
  /** `401 invalid_token` to `token` (every token when absent); `otherwise` for other tokens. */
  | { readonly kind: 'unauthorized'; readonly token?: string; readonly otherwise?: Script }
  /** `403` with an RFC 6750 `insufficient_scope` challenge. */
  | { readonly kind: 'insufficient-scope' };

/** One request that reached the upstream's MCP path, as it arrived. */
export interface RecordedRequest {
  readonly index: number;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The bearer token it carried (the person's upstream token), if any. */
  readonly token: string | undefined;
  readonly body: string;
  readonly id: string | number | null;
  readonly receivedAt: number;
  /** What the upstream sent back (bytes and their SHA-256 once the body was complete). */
  readonly sent: { bytes: number; sha256?: string };
  /** Resolves when the exchange is over: `completed` false means the proxy went away first. */
  readonly closed: Promise<{ readonly completed: boolean; readonly at: number }>;
}

export interface ScriptedUpstream {
  /** The upstream MCP handler for `startAuthorizationFixture({ upstreamMcp })`. */
  readonly mcp: (options: DemoMcpServerOptions) => RequestHandler;
  /** The MCP requests that reached it (bearer checked or not), in order. */
  readonly requests: RecordedRequest[];
  /** Answers from now on. */
  use(script: Script | ((request: RecordedRequest) => Script)): void;
  /** Stops listening on the upstream's port (connections dropped): the route's `to` is refused. */
  closePort(): Promise<void>;
  /** Listens again on the same port. */
  reopenPort(): Promise<void>;
}

/** Epoch milliseconds with sub-millisecond precision (same clock across the process). */
export const preciseNow = () => performance.timeOrigin + performance.now();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Filler text for chunk `k` of a body, `length` characters, JSON- and SSE-safe, unique per chunk. */
export function fillerChunk(k: number, length: number): string {
  const head = `<${k}>`;
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return (head + alphabet.repeat(Math.ceil(length / alphabet.length) + 1)).slice(0, length);
}

function sseEvent(id: number, message: unknown): string {
  return `id: ${id}\nevent: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * A scripted upstream MCP server behind the demo authorization server: the same bearer check as
 * the demo upstream ({@link createBearerCheck}), then whatever the current {@link Script} says —
 * so failure, streaming and header tests can make the upstream do what real ones do on bad days.
 * Every request on the MCP path is recorded with its headers.
 */
export function scriptedUpstream(): ScriptedUpstream {
  const requests: RecordedRequest[] = [];
  let current: Script | ((request: RecordedRequest) => Script) = { kind: 'json' };
  let server: Server | undefined;
  let port: number | undefined;

  const mcp = (options: DemoMcpServerOptions): RequestHandler => {
    port = Number(new URL(options.resource).port);
    const outside = answerOutsideMcpPath(options);
    const check = createBearerCheck(options);

    return async (req, res) => {
      server ??= (req.socket as unknown as { server?: Server }).server;
      if (outside(req, res)) return;
      const body = await readBody(req);
      const request = record(requests, req, res, body);
      const checked = await check(req);
      if (!checked.ok) {
        writeJson(res, checked.status, { error: checked.error }, { 'www-authenticate': checked.challenge });
        return;
      }
      const script = typeof current === 'function' ? current(request) : current;
      await answer(script, req, res, request, options);
    };
  };

  return {
    mcp,
    requests,
    use(script) {
      current = script;
    },
    async closePort() {
      if (!server) throw new Error('the scripted upstream has served no request yet');
      const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
      (server as unknown as { closeAllConnections(): void }).closeAllConnections();
      await closed;
    },
    async reopenPort() {
      if (!server || port === undefined) throw new Error('the scripted upstream has served no request yet');
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(port, '127.0.0.1', () => {
          server!.off('error', reject);
          resolve();
        });
      });
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function record(
  requests: RecordedRequest[],
  req: IncomingMessage,
  res: ServerResponse,
  body: string,
): RecordedRequest {
  let id: string | number | null = null;
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    if (typeof parsed.id === 'string' || typeof parsed.id === 'number') id = parsed.id;
  } catch {
    // not JSON (GET, DELETE): no id
  }
  const closed = new Promise<{ completed: boolean; at: number }>((resolve) => {
    res.once('close', () => resolve({ completed: res.writableFinished, at: preciseNow() }));
  });
  const match = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '');
  recordSecret('upstream access token', match?.[1]);
  const request: RecordedRequest = {
    index: requests.length,
    method: req.method ?? 'GET',
    headers: { ...req.headers },
    token: match?.[1],
    body,
    id,
    receivedAt: preciseNow(),
    sent: { bytes: 0 },
    closed,
  };
  requests.push(request);
  return request;
}

function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

/** Writes with backpressure; false once the exchange is gone. */
async function write(res: ServerResponse, request: RecordedRequest, data: string | Buffer): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return false;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  request.sent.bytes += bytes.byteLength;
  if (!res.write(bytes)) {
    // Whichever comes first; the other's listeners are removed (a 5 MiB answer waits many times).
    const settled = new AbortController();
    try {
      await Promise.race([
        once(res, 'drain', { signal: settled.signal }),
        once(res, 'close', { signal: settled.signal }),
      ]);
    } finally {
      settled.abort();
    }
  }
  return !res.destroyed;
}

async function answer(
  script: Script,
  req: IncomingMessage,
  res: ServerResponse,
  request: RecordedRequest,
  options: DemoMcpServerOptions,
): Promise<void> {
  switch (script.kind) {
    case 'json': {
      if (request.id === null && req.method === 'POST') {
        res.writeHead(202, script.headers ?? {}).end();
        return;
      }
      const payload = JSON.stringify({
        jsonrpc: '2.0',
        id: request.id,
        result: script.result ?? { echo: true },
      });
      request.sent.bytes = Buffer.byteLength(payload);
      request.sent.sha256 = createHash('sha256').update(payload).digest('hex');
      res.writeHead(script.status ?? 200, { 'content-type': 'application/json', ...script.headers });
      res.end(payload);
      return;
    }
    case 'sse':
      await streamEvents(script, res, request);
      return;
    case 'bytes':
      await streamBytes(script, res, request);
      return;
    case 'status':
      res.writeHead(script.status, { 'content-type': 'text/plain' });
      res.end(
        script.body ?? `upstream failure ${script.status}\n    at Upstream.handler (upstream.ts:1:1)\n`,
      );
      return;
    case 'garbage':
      // Below HTTP: the raw (TLS) connection gets bytes no HTTP parser accepts, then ends.
      req.socket.write(Buffer.from('\u0000\u0001\u0002 SSH-2.0-not-http \r\n\r\n\u00ff\u00fe garbage'));
      req.socket.end();
      return;
    case 'hang-up':
      req.socket.destroy();
      return;
    case 'slow': {
      if (script.afterMs === undefined) return; // never answers; the proxy gives up and closes
      const gone = once(res, 'close').then(() => 'gone' as const);
      const waited = await Promise.race([sleep(script.afterMs).then(() => 'waited' as const), gone]);
      if (waited === 'waited') await answer(script.then ?? { kind: 'json' }, req, res, request, options);
      return;
    }
    case 'unauthorized':
      if (script.token !== undefined && script.token !== request.token) {
        await answer(script.otherwise ?? { kind: 'json' }, req, res, request, options);
        return;
      }
      writeJson(
        res,
        401,
        { error: 'invalid_token' },
        {
          'www-authenticate': `Bearer resource_metadata="${resourceMetadata(options).url}", error="invalid_token"`,
        },
      );
      return;
    case 'insufficient-scope':
      writeJson(
        res,
        403,
        { error: 'insufficient_scope' },
        {
          'www-authenticate': `Bearer error="insufficient_scope", scope="${options.scope} admin", resource_metadata="${resourceMetadata(options).url}"`,
        },
      );
      return;
  }
}

async function streamEvents(
  script: Extract<Script, { kind: 'sse' }>,
  res: ServerResponse,
  request: RecordedRequest,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const count = script.count ?? Number.POSITIVE_INFINITY;
  // Absolute schedule: a late timer does not push every later event back.
  let due = preciseNow();
  for (let i = 0; i < count; i++) {
    due += script.gaps?.[i] ?? (i === 0 ? 0 : script.everyMs);
    const wait = due - preciseNow();
    if (wait > 0) await sleep(wait);
    if (res.destroyed) return;
    const event = sseEvent(i, {
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', seq: i, sentAt: preciseNow() },
    });
    const pause = script.splits?.[i];
    if (pause !== undefined) {
      const half = Math.floor(event.length / 2);
      if (!(await write(res, request, event.slice(0, half)))) return;
      await sleep(pause);
      if (!(await write(res, request, event.slice(half)))) return;
    } else if (!(await write(res, request, event))) return;
  }
  if (
    await write(
      res,
      request,
      sseEvent(count, { jsonrpc: '2.0', id: request.id, result: { sentAt: preciseNow() } }),
    )
  )
    res.end();
}

async function streamBytes(
  script: Extract<Script, { kind: 'bytes' }>,
  res: ServerResponse,
  request: RecordedRequest,
): Promise<void> {
  const hash = createHash('sha256');
  const send = async (text: string) => {
    hash.update(text);
    const ok = await write(res, request, text);
    if (script.breakAfterBytes !== undefined && request.sent.bytes >= script.breakAfterBytes) {
      res.socket?.destroy();
      return false;
    }
    return ok;
  };
  if (script.format === 'json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    const prefix = `{"jsonrpc":"2.0","id":${JSON.stringify(request.id)},"result":{"content":[{"type":"text","text":"`;
    const suffix = '"}]}}';
    let left = script.total - prefix.length - suffix.length;
    if (!(await send(prefix))) return;
    for (let k = 0; left > 0; k++) {
      const n = Math.min(script.chunkBytes, left);
      if (!(await send(fillerChunk(k, n)))) return;
      left -= n;
    }
    if (!(await send(suffix))) return;
  } else {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    let k = 0;
    while (request.sent.bytes < script.total) {
      const event = sseEvent(k, {
        jsonrpc: '2.0',
        method: 'notifications/message',
        params: { level: 'info', seq: k, data: fillerChunk(k, Math.max(1, script.chunkBytes - 120)) },
      });
      if (!(await send(event))) return;
      k++;
    }
    if (!(await send(sseEvent(k, { jsonrpc: '2.0', id: request.id, result: { events: k } })))) return;
  }
  request.sent.sha256 = hash.digest('hex');
  res.end();
}
