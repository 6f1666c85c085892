import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AuthInfo,
  createMcpHandler,
  fromJsonSchema,
  McpServer,
  type ServerNotifier,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { RequestHandler } from '../../../functions/local/demo/https-listener.ts';
import {
  answerOutsideMcpPath,
  createBearerCheck,
  type DemoMcpServerOptions,
  json,
} from '../../../functions/local/demo/mcp-server.ts';

/**
 * Test upstreams behind the demo authorization server (`startAuthorizationFixture({ upstreamMcp })`):
 * {@link protectedMcpHandler} makes any web-standard MCP endpoint an OAuth protected resource like
 * the demo's own, and {@link createStatelessUpstream} is a 2026-07-28 stateless server (SDK v2,
 * `createMcpHandler`, a server per request) that records what reached it.
 */

/** Serves one authenticated MCP request (the bearer was checked; `auth` is what it said). */
export type AuthenticatedFetch = (request: Request, auth: AuthInfo) => Promise<Response>;

/** A Node request as a web `Request` (body read in full; aborted when the caller goes away). */
export async function toWebRequest(
  req: IncomingMessage,
  res: ServerResponse,
  origin: string,
): Promise<Request> {
  const abort = new AbortController();
  res.once('close', () => abort.abort());
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2)
    headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const chunks: Buffer[] = [];
  if (req.method !== 'GET' && req.method !== 'HEAD')
    for await (const chunk of req) chunks.push(chunk as Buffer);
  return new Request(new URL(req.url ?? '/', origin), {
    method: req.method ?? 'GET',
    headers,
    ...(chunks.length > 0 ? { body: new Uint8Array(Buffer.concat(chunks)) } : {}),
    signal: abort.signal,
  });
}

/** Writes a web `Response` to Node, chunk by chunk as it arrives (SSE stays a stream). */
export async function writeWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  res.writeHead(response.status, headers);
  if (!response.body) return void res.end();
  res.flushHeaders();
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || res.destroyed) break;
      res.write(value);
    }
  } catch {
    // The exchange was aborted (the caller left): nothing more to write.
  }
  if (res.destroyed) await reader.cancel().catch(() => {});
  res.end();
}

/**
 * An MCP endpoint as an OAuth protected resource, the way the demo upstream is one: RFC 9728
 * metadata at `/.well-known/oauth-protected-resource{path}` (and the root), and at the MCP path
 * only requests whose bearer passes {@link createBearerCheck} (`401`/`403` with the challenge
 * otherwise); those go to `serve` as web `Request`s with what the token said.
 */
export function protectedMcpHandler(
  options: DemoMcpServerOptions,
  serve: AuthenticatedFetch,
): RequestHandler {
  const outside = answerOutsideMcpPath(options);
  const authenticate = createBearerCheck(options);
  return async (req, res) => {
    if (outside(req, res)) return;
    const checked = await authenticate(req);
    if (!checked.ok) {
      return json(res, checked.status, { error: checked.error }, { 'www-authenticate': checked.challenge });
    }
    const request = await toWebRequest(req, res, new URL(options.resource).origin);
    await writeWebResponse(res, await serve(request, checked.auth));
  };
}

/** One request as the upstream received it. */
export interface RecordedCall {
  readonly httpMethod: string;
  /** The body's JSON-RPC `method` (undefined for a response or an unparsable body). */
  readonly jsonrpcMethod: string | undefined;
  /** The body's `params` as received. */
  readonly params: Record<string, unknown> | undefined;
  readonly mcpMethodHeader: string | undefined;
  readonly mcpNameHeader: string | undefined;
  readonly protocolVersionHeader: string | undefined;
  /** Every `Mcp-Param-*` header, by lower-case name. */
  readonly mcpParamHeaders: Readonly<Record<string, string>>;
  /** Whether a session id came along (never on 2026-07-28). */
  readonly sessionId: string | undefined;
  /** The upstream token's subject: the person at the upstream's authorization server. */
  readonly sub: string;
  /** The upstream token's client: the route's CIMD URL. */
  readonly clientId: string;
}

export interface StatelessUpstreamFixture {
  /** For `startAuthorizationFixture({ upstreamMcp })`. Call once: it builds the handler. */
  readonly mcp: (options: DemoMcpServerOptions) => RequestHandler;
  /** Every authenticated request, in arrival order. */
  readonly calls: RecordedCall[];
  /** Publishes change events to the open `subscriptions/listen` streams. */
  readonly notify: ServerNotifier;
  /** Ends open streams (call before stopping the fixture). */
  close(): Promise<void>;
}

export interface StatelessUpstreamOptions {
  /**
   * The upstream's own SSE keep-alive; default 0 (off), so the comments a client sees on a quiet
   * stream are the gateway's.
   */
  readonly keepAliveMs?: number;
}

/** SEP-2243: `x-mcp-header` makes clients mirror `region` in `Mcp-Param-Region`. */
const ECHO_SCHEMA = {
  type: 'object',
  properties: {
    text: { type: 'string' },
    region: { type: 'string', 'x-mcp-header': 'Region' },
  },
  required: ['text'],
} as Parameters<typeof fromJsonSchema>[0];

/**
 * A 2026-07-28 stateless upstream (`@modelcontextprotocol/server` 2.4.0, `createMcpHandler`,
 * `legacy: 'reject'`): a server per request, every request's bearer checked as the demo upstream
 * checks it, every authenticated call recorded. Tools: `whoami` (the token's subject and client),
 * `echo` (its `region` argument travels as `Mcp-Param-Region`), `touch_tools` (publishes
 * tools/list_changed); a prompt `grüße` (its `Mcp-Name` needs the base64 sentinel).
 */
export function createStatelessUpstream(options: StatelessUpstreamOptions = {}): StatelessUpstreamFixture {
  const calls: RecordedCall[] = [];
  const handler = createMcpHandler(
    ({ authInfo }) => {
      const server = new McpServer(
        { name: 'mcp-edge-stateless-upstream', version: '1.0.0' },
        { capabilities: { tools: { listChanged: true }, prompts: { listChanged: true } } },
      );
      server.registerTool(
        'whoami',
        {
          description: 'Who the upstream access token was issued to: its subject and OAuth client.',
          outputSchema: z.object({ sub: z.string(), client_id: z.string() }),
        },
        async () => {
          const who = { sub: String(authInfo?.extra?.sub ?? ''), client_id: authInfo?.clientId ?? '' };
          return { content: [{ type: 'text' as const, text: JSON.stringify(who) }], structuredContent: who };
        },
      );
      server.registerTool(
        'echo',
        {
          description: 'Returns its text and region.',
          inputSchema: fromJsonSchema<{ text: string; region?: string }>(ECHO_SCHEMA),
        },
        async ({ text, region }) => ({
          content: [{ type: 'text' as const, text: `${text} (region ${region ?? '-'})` }],
        }),
      );
      server.registerTool('touch_tools', { description: 'Publishes tools/list_changed.' }, async () => {
        handler.notify.toolsChanged();
        return { content: [{ type: 'text' as const, text: 'tools changed' }] };
      });
      server.registerPrompt('grüße', { description: 'A prompt whose name is not ASCII.' }, async () => ({
        messages: [{ role: 'user' as const, content: { type: 'text' as const, text: 'Grüße!' } }],
      }));
      return server;
    },
    { legacy: 'reject', keepAliveMs: options.keepAliveMs ?? 0 },
  );

  const record = async (request: Request, auth: AuthInfo) => {
    let body: { method?: unknown; params?: unknown } | undefined;
    try {
      body = request.method === 'POST' ? JSON.parse(await request.clone().text()) : undefined;
    } catch {
      body = undefined;
    }
    const params =
      typeof body?.params === 'object' && body.params !== null && !Array.isArray(body.params)
        ? (body.params as Record<string, unknown>)
        : undefined;
    const mcpParamHeaders: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      if (name.startsWith('mcp-param-')) mcpParamHeaders[name] = value;
    });
    calls.push({
      httpMethod: request.method,
      jsonrpcMethod: typeof body?.method === 'string' ? body.method : undefined,
      params,
      mcpMethodHeader: request.headers.get('mcp-method') ?? undefined,
      mcpNameHeader: request.headers.get('mcp-name') ?? undefined,
      protocolVersionHeader: request.headers.get('mcp-protocol-version') ?? undefined,
      mcpParamHeaders,
      sessionId: request.headers.get('mcp-session-id') ?? undefined,
      sub: String(auth.extra?.sub ?? ''),
      clientId: auth.clientId,
    });
  };

  return {
    mcp: (demo) =>
      protectedMcpHandler(demo, async (request, auth) => {
        await record(request, auth);
        return handler.fetch(request, { authInfo: auth });
      }),
    calls,
    notify: handler.notify,
    close: () => handler.close(),
  };
}
