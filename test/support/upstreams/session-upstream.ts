import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type EventStore,
  StreamableHTTPServerTransport,
} from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import type { RequestHandler } from '../../../functions/local/demo/https-listener.ts';
import {
  answerOutsideMcpPath,
  createBearerCheck,
  type DemoMcpServerOptions,
  json,
} from '../../../functions/local/demo/mcp-server.ts';
import { recordSecret } from '../secrets.ts';

/** One HTTP request that reached the upstream's MCP endpoint, as the upstream saw it. */
export interface RecordedCall {
  /** HTTP method: POST, GET or DELETE. */
  readonly method: string;
  /** The JSON-RPC method of a POST (`initialize`, `tools/call`, …), or undefined. */
  readonly jsonrpcMethod?: string;
  /** The tool of a `tools/call`. */
  readonly tool?: string;
  /** The bearer token's `sub` (the person at the upstream's authorization server). */
  readonly sub?: string;
  /** The bearer token's `client_id`: the route's CIMD URL, so it names the route. */
  readonly clientId?: string;
  /** The request carried an `Authorization` header (the gateway's discovery probe carries none). */
  readonly authorization: boolean;
  /** The `iss` of the presented bearer (decoded, whether or not it verified). */
  readonly bearerIssuer?: string;
  /** The bearer verified against the upstream's own authorization server. */
  readonly bearerOk: boolean;
  /**
   * The upstream session this request belongs to: the `Mcp-Session-Id` it carried, or the one
   * an `initialize` created.
   */
  sessionId?: string;
  /** The `Last-Event-ID` of a GET that resumes a stream. */
  readonly lastEventId?: string;
  /** The status the upstream answered with. */
  status?: number;
  /** When the request arrived (ms since epoch). */
  readonly at: number;
}

/** What the session upstream saw: every request to its MCP endpoint, refused ones included. */
export class SessionRecorder {
  readonly calls: RecordedCall[] = [];
  /**
   * When set, a kept-alive connection reused after more than this many seconds idle is treated as
   * already closed by the upstream: destroyed without an answer. That is what a client sees when
   * its request crosses a server's close of an idle connection (uvicorn 5 s, gunicorn 2 s, Node
   * 5 s); the SDK's SSE answers carry no `Keep-Alive: timeout` hint, so the client cannot know.
   */
  idleTimeoutSeconds: number | undefined;
  /** How many connections requests arrived on (keep-alive reuse keeps this low). */
  connections = 0;
  /** Requests that arrived on such a stale connection and were dropped (never handled, not in `calls`). */
  dropped = 0;
  /** The live sessions by the upstream's own id (ended by DELETE). */
  readonly sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();

  /** Every session id the upstream ever handed out, in order. */
  get sessionIds(): string[] {
    return [
      ...new Set(this.calls.filter((c) => c.jsonrpcMethod === 'initialize').map((c) => c.sessionId)),
    ].filter((id): id is string => typeof id === 'string');
  }

  /** The calls of one upstream session. */
  ofSession(sessionId: string): RecordedCall[] {
    return this.calls.filter((c) => c.sessionId === sessionId);
  }
}

/**
 * An event store that replays a stream after a `Last-Event-ID`, the standalone GET stream too (the
 * SDK's sample store derives the stream from the event id and loses `_GET_stream`).
 */
class SeqEventStore implements EventStore {
  private seq = 0;
  private readonly events: { id: string; streamId: string; message: JSONRPCMessage }[] = [];

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const id = String(++this.seq);
    this.events.push({ id, streamId, message });
    return id;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    return this.events.find((e) => e.id === eventId)?.streamId;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (id: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const index = this.events.findIndex((e) => e.id === lastEventId);
    if (index < 0) return '';
    const { streamId } = this.events[index]!;
    for (const event of this.events.slice(index + 1)) {
      // Priming events are stored as `{}`: they are not messages.
      if (event.streamId === streamId && Object.keys(event.message).length > 0) {
        await send(event.id, event.message);
      }
    }
    return streamId;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function createServer(): McpServer {
  const server = new McpServer(
    { name: 'mcp-edge-session-upstream', version: '1.0.0' },
    { capabilities: { tools: { listChanged: true }, logging: {} } },
  );
  server.registerTool(
    'whoami',
    {
      description: 'The access token this call carried: its subject and OAuth client.',
      outputSchema: { sub: z.string(), client_id: z.string() },
    },
    (extra) => {
      const result = {
        sub: String(extra.authInfo?.extra?.sub ?? ''),
        client_id: extra.authInfo?.clientId ?? '',
      };
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  server.registerTool(
    'echo',
    { description: 'Returns the text it is given.', inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool(
    'slow_progress',
    {
      description:
        'Sends `count` progress notifications `intervalMs` apart (to the progressToken), then answers.',
      inputSchema: {
        count: z.number().int().min(1).max(100),
        intervalMs: z.number().int().min(0).max(10_000),
      },
    },
    async ({ count, intervalMs }, extra) => {
      const progressToken = extra._meta?.progressToken;
      for (let i = 1; i <= count; i++) {
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress: i, total: count, message: `step ${i}/${count}` },
          });
        }
        await sleep(intervalMs);
      }
      return { content: [{ type: 'text', text: `done ${count}` }] };
    },
  );
  server.registerTool(
    'notify_later',
    {
      description:
        'Answers at once; after `delayMs` sends a notification unrelated to any request, so it goes on the session’s GET stream.',
      inputSchema: {
        delayMs: z.number().int().min(0).max(60_000),
        kind: z.enum(['message', 'tools_changed']).default('message'),
        text: z.string().default('later'),
      },
    },
    ({ delayMs, kind, text }) => {
      setTimeout(() => {
        const sent =
          kind === 'message'
            ? server.server.sendLoggingMessage({ level: 'info', logger: 'notify_later', data: text })
            : server.server.sendToolListChanged();
        sent.catch(() => {});
      }, delayMs).unref();
      return { content: [{ type: 'text', text: `scheduled ${kind} in ${delayMs} ms` }] };
    },
  );
  server.registerTool(
    'big',
    {
      description: 'Returns a text of `bytes` bytes.',
      inputSchema: {
        bytes: z
          .number()
          .int()
          .min(0)
          .max(64 * 1024 * 1024),
      },
    },
    ({ bytes }) => ({ content: [{ type: 'text', text: 'x'.repeat(bytes) }] }),
  );
  return server;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function issuerOf(req: IncomingMessage): string | undefined {
  const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!token) return undefined;
  recordSecret('upstream access token', token);
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A 2025-11-25 upstream that keeps sessions (MCP SDK v1: `McpServer` + `StreamableHTTPServerTransport`
 * with a session id generator and an event store): `initialize` opens a session, GET opens its
 * standalone SSE stream (resumable with `Last-Event-ID`), DELETE ends it (later requests: `404`).
 * Every request's bearer is checked against the demo authorization server like the demo upstream
 * (refused with its challenge), and every request is recorded in `recorder`.
 *
 * Use it as `startAuthorizationFixture({ upstreamMcp: sessionUpstream(recorder) })`. Tools:
 * `whoami`, `echo`, `slow_progress` (progress notifications before the result), `notify_later`
 * (a notification on the GET stream after a delay), `big` (a large text).
 */
export function sessionUpstream(
  recorder: SessionRecorder,
): (options: DemoMcpServerOptions) => RequestHandler {
  return (options) => {
    const outside = answerOutsideMcpPath(options);
    const authenticate = createBearerCheck(options);
    /** When each connection last finished an answer (its idle time starts there). */
    const lastAnswer = new WeakMap<Socket, number>();
    const seen = new WeakSet<Socket>();

    return async (req, res) => {
      const socket = req.socket;
      if (!seen.has(socket)) {
        seen.add(socket);
        recorder.connections++;
      }
      const timeout = recorder.idleTimeoutSeconds;
      const idleSince = lastAnswer.get(socket);
      if (timeout !== undefined && idleSince !== undefined && Date.now() - idleSince > timeout * 1000) {
        recorder.dropped++;
        socket.destroy();
        return;
      }
      res.on('finish', () => lastAnswer.set(socket, Date.now()));
      if (outside(req, res)) return;

      const body = req.method === 'POST' ? await readBody(req) : undefined;
      const message = (typeof body === 'object' && body !== null ? body : {}) as {
        method?: unknown;
        params?: { name?: unknown };
      };
      const authenticated = await authenticate(req);
      const header = req.headers['mcp-session-id'];
      const record: RecordedCall = {
        method: req.method ?? 'GET',
        ...(typeof message.method === 'string' ? { jsonrpcMethod: message.method } : {}),
        ...(message.method === 'tools/call' && typeof message.params?.name === 'string'
          ? { tool: message.params.name }
          : {}),
        ...(authenticated.ok
          ? { sub: String(authenticated.auth.extra?.sub ?? ''), clientId: authenticated.auth.clientId }
          : {}),
        authorization: req.headers.authorization !== undefined,
        ...(issuerOf(req) ? { bearerIssuer: issuerOf(req) } : {}),
        bearerOk: authenticated.ok,
        ...(typeof header === 'string' ? { sessionId: header } : {}),
        ...(typeof req.headers['last-event-id'] === 'string'
          ? { lastEventId: req.headers['last-event-id'] }
          : {}),
        at: Date.now(),
      };
      recorder.calls.push(record);
      res.on('close', () => {
        record.status = res.statusCode;
      });

      if (!authenticated.ok) {
        json(
          res,
          authenticated.status,
          { error: authenticated.error },
          { 'www-authenticate': authenticated.challenge },
        );
        return;
      }
      const request = Object.assign(req, { auth: authenticated.auth });

      if (typeof header === 'string') {
        const session = recorder.sessions.get(header);
        if (!session) {
          json(res, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
          return;
        }
        await session.transport.handleRequest(request, res, body);
        return;
      }
      if (req.method !== 'POST' || !isInitializeRequest(body)) {
        json(res, 400, {
          jsonrpc: '2.0',
          error: { code: -32000, message: 'Bad Request: No valid session ID provided' },
          id: null,
        });
        return;
      }
      const server = createServer();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        eventStore: new SeqEventStore(),
        retryInterval: 250,
        onsessioninitialized: (id) => {
          record.sessionId = id;
          recordSecret('session id', id);
          recorder.sessions.set(id, { transport, server });
        },
        onsessionclosed: (id) => {
          recorder.sessions.delete(id);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) recorder.sessions.delete(transport.sessionId);
      };
      await server.connect(transport);
      await transport.handleRequest(request, res, body);
    };
  };
}
