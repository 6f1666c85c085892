import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from '../../../functions/local/demo/https-listener.ts';
import {
  answerOutsideMcpPath,
  createBearerCheck,
  type DemoMcpServerOptions,
  json,
} from '../../../functions/local/demo/mcp-server.ts';

/** Epoch milliseconds with sub-millisecond precision; one clock for upstream, proxies and client. */
export const preciseNow = () => performance.timeOrigin + performance.now();

/** The tool that streams: `arguments.count` SSE events `arguments.everyMs` apart, then the result. */
export const STREAM_TOOL = 'stream';

/**
 * The bench's upstream MCP server, behind the demo authorization server: every MCP request pays
 * the same bearer check the demo upstream does ({@link createBearerCheck}), so a direct call and a
 * proxied one cost the upstream alike. A `tools/call` is answered at once with a small JSON
 * result; the {@link STREAM_TOOL} tool answers with SSE, each event carrying its send time
 * (`params.sentAt`) and the final result the time the upstream finished (`result.finishedAt`).
 */
export function benchUpstream(options: DemoMcpServerOptions): RequestHandler {
  const outside = answerOutsideMcpPath(options);
  const check = createBearerCheck(options);

  return async (req, res) => {
    if (outside(req, res)) return;
    if (req.method !== 'POST') {
      json(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
      return;
    }
    const body = await readBody(req);
    const checked = await check(req);
    if (!checked.ok) {
      json(res, checked.status, { error: checked.error }, { 'www-authenticate': checked.challenge });
      return;
    }
    const message = JSON.parse(body) as {
      id: string | number;
      params?: { name?: string; arguments?: { count?: number; everyMs?: number } };
    };
    if (message.params?.name === STREAM_TOOL) {
      await stream(res, message.id, message.params.arguments ?? {});
      return;
    }
    json(res, 200, {
      jsonrpc: '2.0',
      id: message.id,
      result: { content: [{ type: 'text', text: 'ok' }] },
    });
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function stream(
  res: ServerResponse,
  id: string | number,
  args: { count?: number; everyMs?: number },
): Promise<void> {
  const count = args.count ?? 10;
  const everyMs = args.everyMs ?? 10;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.flushHeaders();
  // Absolute schedule: a late timer does not push every later event back.
  let due = preciseNow();
  for (let i = 0; i < count; i++) {
    if (i > 0) due += everyMs;
    const wait = due - preciseNow();
    if (wait > 0) await sleep(wait);
    if (res.destroyed) return;
    const params = { level: 'info', seq: i, sentAt: preciseNow() };
    res.write(
      `id: ${i}\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params })}\n\n`,
    );
  }
  await sleep(everyMs);
  const result = { finishedAt: preciseNow() };
  res.end(`id: ${count}\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result })}\n\n`);
}
