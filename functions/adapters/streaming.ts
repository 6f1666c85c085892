import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { errorToResponse, HttpError } from '../core/http/errors.ts';
import { attachTelemetry } from '../core/telemetry.ts';
import { eventToRequest } from './apigateway.ts';
import { bypassRefusal, cameThroughCloudFront } from './middleware.ts';
import { functionTelemetry, type StreamEnd } from './telemetry.ts';
import type { WebApp } from './web-handler.ts';

/** The status, headers and cookies sent before a streamed body (Lambda's HTTP integration prelude). */
export interface StreamMetadata {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly cookies: string[];
}

/** What `awslambda.HttpResponseStream` offers; the local gateway provides the same. */
export interface ResponseStreamRuntime {
  from(stream: Writable, metadata: StreamMetadata): Writable;
}

export type StreamingHandler = (
  event: APIGatewayProxyEvent,
  responseStream: Writable,
  context: Context,
) => Promise<void>;

function metadataOf(response: Response): StreamMetadata {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value;
  });
  return { statusCode: response.status, headers, cookies: response.headers.getSetCookie() };
}

/**
 * Wraps a web-standard app as a response-streaming handler: the `Response` body is piped to the
 * client as it is produced (SSE, long MCP answers) instead of being buffered. In Lambda, wrap the
 * result with `awslambda.streamifyResponse` and pass `awslambda.HttpResponseStream` as `runtime`;
 * the local gateway passes its own runtime with the same contract. Each invocation's log line and
 * metrics are written when the body ends — completely, broken, or because the client left — and
 * flushed before the handler returns (functions/adapters/telemetry.ts). `name` is the function's
 * name (MCP_EDGE_FUNCTION in AWS).
 */
export function streamingWebHandler(
  app: WebApp,
  originSecret: string | undefined,
  runtime: ResponseStreamRuntime,
  name = process.env.MCP_EDGE_FUNCTION ?? 'proxy',
): StreamingHandler {
  const telemetry = functionTelemetry(name);
  return async (event, responseStream, context) => {
    const t = telemetry.begin(event, context);
    // The request's signal ends what the app started for it (the proxy's upstream request) when the
    // client goes away, or a second before the function's own deadline.
    const abort = new AbortController();
    // Only a close before the whole answer was written is the client leaving.
    const onClose = () => {
      if (!responseStream.writableFinished) abort.abort();
    };
    responseStream.once('close', onClose);
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline =
      typeof remaining === 'number' && remaining > 0
        ? setTimeout(() => abort.abort(), Math.max(0, remaining - 1000))
        : undefined;
    deadline?.unref?.();
    let response: Response;
    try {
      if (cameThroughCloudFront(event, originSecret)) {
        const request = eventToRequest(event, abort.signal);
        attachTelemetry(request, t);
        response = await app(request);
      } else {
        response = bypassRefusal();
      }
    } catch (error) {
      if (!(error instanceof HttpError)) t.unhandled(error);
      response = errorToResponse(error);
    }
    const answer = { status: response.status, header: (h: string) => response.headers.get(h) };
    let stream: { sse: boolean; ms: number; end: StreamEnd } | undefined;
    try {
      const out = runtime.from(responseStream, metadataOf(response));
      t.headersSent();
      if (!response.body || event.httpMethod === 'HEAD') {
        out.end();
        return;
      }
      const sse = /^text\/event-stream/i.test(response.headers.get('content-type') ?? '');
      const startedAt = performance.now();
      let end: StreamEnd = 'complete';
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), out).catch(
        () => {
          // The client left or the upstream broke mid-body: nothing more can be sent.
          end = abort.signal.aborted ? 'aborted' : 'broken';
        },
      );
      stream = { sse, ms: performance.now() - startedAt, end };
    } finally {
      clearTimeout(deadline);
      responseStream.off('close', onClose);
      t.finish(answer, stream);
    }
  };
}
