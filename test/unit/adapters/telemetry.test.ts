import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { streamingWebHandler } from '../../../functions/adapters/streaming.ts';
import { webHandler } from '../../../functions/adapters/web-handler.ts';
import { HttpError } from '../../../functions/core/http/errors.ts';
import { NO_TELEMETRY, telemetryOf } from '../../../functions/core/telemetry.ts';
import { localContext } from '../../../functions/local/node-adapter.ts';
import { type CapturedLine, emfMetrics, readCapturedLines } from '../../support/captured-logs.ts';

/** An API Gateway REST event for a route host, with its own request id. */
function event(path: string, method = 'GET'): APIGatewayProxyEvent {
  return {
    httpMethod: method,
    path,
    resource: path,
    headers: { host: 'mcp.example.com' },
    multiValueHeaders: {},
    queryStringParameters: { code: 'a-code-that-must-not-be-logged' },
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { domainName: 'mcp.example.com', requestId: randomUUID() },
  } as unknown as APIGatewayProxyEvent;
}

/** The lines of the file this test file's telemetry writes to (test/support/log-capture.ts). */
function linesOf(requestId: string): { line: CapturedLine; emf: CapturedLine[] } {
  const all = readCapturedLines(process.env.MCP_EDGE_LOG_FILE!);
  const index = all.findIndex((l) => l.requestId === requestId);
  expect(index, 'the request’s line').toBeGreaterThanOrEqual(0);
  // The request's EMF blobs are written around its line: RefusalsByCode before, the rest after.
  const emf = all.slice(Math.max(0, index - 1), index + 2).filter((l) => l._aws);
  return { line: all[index]!, emf };
}

const stream = { from: (s: import('node:stream').Writable) => s };

describe('request telemetry (functions/adapters/telemetry.ts)', () => {
  it('logs a refusal with the code of its x-mcp-edge-refusal header and counts it by code', async () => {
    const handler = webHandler(
      async () =>
        new Response('<p>no</p>', {
          status: 403,
          headers: { 'content-type': 'text/html', 'x-mcp-edge-refusal': 'state_other_browser' },
        }),
      undefined,
      'callback',
    );
    const e = event('/.pomerium/oauth/callback');
    await handler(e, localContext('callback'));
    const { line, emf } = linesOf(e.requestContext.requestId);
    expect(line).toMatchObject({
      level: 'WARN',
      function: 'callback',
      route: 'https://mcp.example.com',
      status: 403,
      code: 'state_other_browser',
      service: 'mcp-edge',
    });
    expect(JSON.stringify(line)).not.toContain('a-code-that-must-not-be-logged');
    const metrics = emfMetrics(emf);
    expect(metrics.get('Refusals')?.values).toEqual([1]);
    expect(metrics.get('RefusalsByCode')?.dimensions).toEqual(['service=mcp-edge,code=state_other_browser']);
  });

  it('logs a thrown HttpError as the refusal it is, not as a failure', async () => {
    const handler = webHandler(
      async () => {
        throw new HttpError('not_found');
      },
      undefined,
      'connect',
    );
    const e = event('/.pomerium/nothing');
    expect((await handler(e)).statusCode).toBe(404);
    const { line } = linesOf(e.requestContext.requestId);
    expect(line).toMatchObject({ level: 'WARN', status: 404, code: 'not_found' });
    expect(line.error).toBeUndefined();
  });

  it('falls back to the JSON error field when an answer has no refusal header', async () => {
    const handler = webHandler(
      async () => Response.json({ error: 'invalid_request' }, { status: 400 }),
      undefined,
      'authorization',
    );
    const e = event('/.pomerium/mcp/token', 'POST');
    await handler(e);
    expect(linesOf(e.requestContext.requestId).line).toMatchObject({
      level: 'WARN',
      code: 'invalid_request',
    });
  });

  it('logs what was thrown by name and stack frames, never its message, and answers 500', async () => {
    const handler = webHandler(
      async () => {
        throw new SyntaxError('Unexpected token in "eyJhbGciOiJFUzI1NiJ9.secret"');
      },
      undefined,
      'connect',
    );
    const e = event('/.pomerium/connect');
    expect((await handler(e)).statusCode).toBe(500);
    const { line } = linesOf(e.requestContext.requestId);
    expect(line).toMatchObject({ level: 'ERROR', status: 500, error: { name: 'SyntaxError' } });
    expect((line.error as { frames: string[] }).frames.length).toBeGreaterThan(0);
    expect(JSON.stringify(line)).not.toContain('eyJhbGciOiJFUzI1NiJ9');
  });

  it('flushes a streamed answer’s line and metrics when the client leaves mid-stream', async () => {
    let push: (text: string) => void = () => undefined;
    const handler = streamingWebHandler(
      async (request) => {
        telemetryOf(request).upstreamResponded(200, 12.3);
        telemetryOf(request).relayingUpstream();
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            push = (text) => controller.enqueue(new TextEncoder().encode(text));
          },
        });
        return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
      },
      undefined,
      stream,
      'proxy',
    );
    const e = event('/mcp', 'POST');
    const client = new PassThrough();
    const done = handler(e, client, localContext('proxy'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    push('data: one\n\n');
    await new Promise((resolve) => client.once('data', resolve));
    client.destroy();
    await done;
    const { line, emf } = linesOf(e.requestContext.requestId);
    expect(line).toMatchObject({ level: 'INFO', status: 200, upstreamStatus: 200, streamEnd: 'aborted' });
    expect(line.code).toBeUndefined();
    const metrics = emfMetrics(emf);
    for (const name of ['ProxyLatency', 'UpstreamLatency', 'ProxiedCalls', 'StreamDuration']) {
      expect(metrics.has(name), name).toBe(true);
    }
    expect(metrics.has('Refusals')).toBe(false);
  });

  it('does not count the upstream’s own 4xx relayed to the client as a refusal of ours', async () => {
    const handler = streamingWebHandler(
      async (request) => {
        telemetryOf(request).upstreamResponded(404, 3);
        telemetryOf(request).relayingUpstream();
        return Response.json(
          { jsonrpc: '2.0', id: 1, error: { code: -32001, message: 'gone' } },
          { status: 404 },
        );
      },
      undefined,
      stream,
      'proxy',
    );
    const e = event('/mcp', 'POST');
    const client = new PassThrough();
    client.resume();
    await handler(e, client, localContext('proxy'));
    const { line, emf } = linesOf(e.requestContext.requestId);
    expect(line).toMatchObject({ level: 'INFO', status: 404, upstreamStatus: 404 });
    expect(line.code).toBeUndefined();
    expect(emfMetrics(emf).has('Refusals')).toBe(false);
  });

  it('leaves the core’s reports as no-ops for a request no adapter attached telemetry to', () => {
    expect(telemetryOf(new Request('https://mcp.example.com/mcp'))).toBe(NO_TELEMETRY);
  });
});
