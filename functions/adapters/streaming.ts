import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { errorToResponse, HttpError } from '../core/http/errors.ts';
import { eventToRequest } from './apigateway.ts';
import { bypassRefusal, cameThroughCloudFront } from './middleware.ts';
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
 * the local gateway passes its own runtime with the same contract.
 */
export function streamingWebHandler(
  app: WebApp,
  originSecret: string | undefined,
  runtime: ResponseStreamRuntime,
): StreamingHandler {
  return async (event, responseStream, context) => {
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
      response = cameThroughCloudFront(event, originSecret)
        ? await app(eventToRequest(event, abort.signal))
        : bypassRefusal();
    } catch (error) {
      if (!(error instanceof HttpError)) {
        console.error(
          JSON.stringify({ level: 'error', message: 'unhandled error', name: (error as Error)?.name }),
        );
      }
      response = errorToResponse(error);
    }
    try {
      const out = runtime.from(responseStream, metadataOf(response));
      if (!response.body || event.httpMethod === 'HEAD') {
        out.end();
        return;
      }
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), out).catch(
        () => {
          // The client left or the upstream broke mid-body: nothing more can be sent.
        },
      );
    } finally {
      clearTimeout(deadline);
      responseStream.off('close', onClose);
    }
  };
}
