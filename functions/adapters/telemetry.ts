import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import type { Telemetry, UpstreamRefreshOutcome } from '../core/telemetry.ts';
import { type TelemetryOutput, telemetryOutput } from './telemetry-output.ts';

/** The header every refusal of the catalogue carries its code in (functions/core/refusals.ts). */
export const REFUSAL_HEADER = 'x-mcp-edge-refusal';

/** The metric names alarms and dashboards use (README "Logs and metrics"); namespace McpEdge. */
export const METRIC = {
  refusals: 'Refusals',
  refusalsByCode: 'RefusalsByCode',
  tokensIssued: 'TokensIssued',
  proxiedCalls: 'ProxiedCalls',
  proxyLatency: 'ProxyLatency',
  upstreamLatency: 'UpstreamLatency',
  upstreamErrors: 'UpstreamErrors',
  streamDuration: 'StreamDuration',
  refreshes: 'Refreshes',
  refreshFailures: 'RefreshFailures',
} as const;

/** A code is a catalogue name; anything else (a metric dimension must stay small) is not used. */
const CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** What the adapter knows about the answer when it finishes a request. */
export interface Answer {
  readonly status: number;
  /** A response header, by lower-case name. */
  header(name: string): string | null | undefined;
  /** The whole body when the adapter has it (buffered functions); never logged, only read for a code. */
  readonly body?: string;
}

/** How a relayed stream ended: to its end, cut by the client leaving or the deadline, or broken upstream. */
export type StreamEnd = 'complete' | 'aborted' | 'broken';

/** The fields of an error worth an operator's time, without its message (it may quote input). */
function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { name: typeof error };
  const e = error as Error & { code?: unknown; $metadata?: { httpStatusCode?: number } };
  return {
    name: e.name,
    ...(typeof e.code === 'string' && CODE.test(e.code) ? { code: e.code } : {}),
    ...(e.$metadata?.httpStatusCode ? { httpStatus: e.$metadata.httpStatusCode } : {}),
    // The frames only: the first line of a stack repeats the message.
    ...(e.stack
      ? {
          frames: e.stack
            .split('\n')
            .filter((l) => /^\s+at /.test(l))
            .slice(0, 8)
            .map((l) => l.trim()),
        }
      : {}),
  };
}

/** The code of a refusal whose answer lacks the header: the gateway's JSON or JSON-RPC error field. */
function codeFromBody(answer: Answer): string | undefined {
  if (!answer.body || !/json/i.test(answer.header('content-type') ?? '')) return undefined;
  try {
    const value = JSON.parse(answer.body) as { error?: unknown };
    if (typeof value.error === 'string') return value.error;
    const rpc = value.error as { code?: unknown; data?: { error?: unknown } } | undefined;
    if (typeof rpc?.data?.error === 'string') return rpc.data.error;
    if (typeof rpc?.code === 'number') return `jsonrpc_${rpc.code}`;
  } catch {
    // not JSON after all
  }
  return undefined;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

let coldStart = true;

/**
 * The telemetry of one request: the facts the core reports (it implements the core's
 * {@link Telemetry}) and the adapter's own (status, refusal code, timings), written when the
 * request ends as one log line and the request's metrics, flushed before the invocation returns.
 * Every line carries the request id (API Gateway's, which its access log and `x-amzn-RequestId`
 * show, and Lambda's), the route (origin) and the function; a refusal's line carries its code.
 * Nothing in it is a token, a code, a cookie, a query string or a body.
 */
export class RequestTelemetry implements Telemetry {
  private readonly startedAt = performance.now();
  private readonly fields: Record<string, unknown>;
  private forwarded = false;
  private relayed = false;
  private error: unknown;
  private finished = false;

  constructor(
    private readonly out: TelemetryOutput,
    fn: string,
    event: APIGatewayProxyEvent,
    context: Context | undefined,
  ) {
    const host = event.requestContext?.domainName ?? '';
    this.fields = {
      requestId: event.requestContext?.requestId ?? context?.awsRequestId ?? '-',
      ...(context?.awsRequestId ? { lambdaRequestId: context.awsRequestId } : {}),
      route: /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/.test(host) ? `https://${host}` : '-',
      function: fn,
      method: event.httpMethod,
      path: (event.path ?? '').slice(0, 200),
      ...(coldStart ? { coldStart: true } : {}),
    };
    coldStart = false;
  }

  tokenIssued(grantType: 'authorization_code' | 'refresh_token'): void {
    this.out.metrics.addMetric(METRIC.tokensIssued, MetricUnit.Count, 1);
    this.fields.grantType = grantType;
  }

  upstreamResponded(status: number, latencyMs: number): void {
    this.forwarded = true;
    this.out.metrics.addMetric(METRIC.upstreamLatency, MetricUnit.Milliseconds, round(latencyMs));
    if (status >= 500) this.out.metrics.addMetric(METRIC.upstreamErrors, MetricUnit.Count, 1);
    this.fields.upstreamStatus = status;
    this.fields.upstreamMs = round(latencyMs);
  }

  upstreamFailed(code: string, latencyMs: number): void {
    this.forwarded = true;
    this.out.metrics.addMetric(METRIC.upstreamErrors, MetricUnit.Count, 1);
    this.fields.upstreamError = code;
    this.fields.upstreamMs = round(latencyMs);
  }

  relayingUpstream(): void {
    this.relayed = true;
  }

  upstreamRefresh(outcome: UpstreamRefreshOutcome): void {
    this.out.metrics.addMetric(METRIC.refreshes, MetricUnit.Count, 1);
    if (outcome !== 'tokens') this.out.metrics.addMetric(METRIC.refreshFailures, MetricUnit.Count, 1);
    this.fields.refresh = outcome;
  }

  /** Something was thrown that the core did not turn into an answer: logged (without its message) at the end. */
  unhandled(error: unknown): void {
    this.error = error;
  }

  /** The response head went to the client (the proxy): `ProxyLatency`. */
  headersSent(): void {
    const ms = round(performance.now() - this.startedAt);
    this.out.metrics.addMetric(METRIC.proxyLatency, MetricUnit.Milliseconds, ms);
    this.fields.headersMs = ms;
  }

  /** The code this answer refuses with, when it is a refusal of ours. */
  refusalCode(answer: Answer): string | undefined {
    const header = answer.header(REFUSAL_HEADER);
    if (header && CODE.test(header)) return header;
    if (answer.status < 400 || this.relayed) return undefined;
    const challenge = /\berror="([^"]+)"/.exec(answer.header('www-authenticate') ?? '')?.[1];
    const code = codeFromBody(answer) ?? challenge;
    return code && CODE.test(code) ? code : `http_${answer.status}`;
  }

  /**
   * The end of the request: its line (info; warn for a refusal; error for a 500 or anything
   * thrown) and its metrics, flushed now, since Lambda may freeze the instance once the handler
   * returns. `stream` is set when an answer was relayed as a stream (`StreamDuration` for SSE).
   */
  finish(
    answer: Answer,
    stream?: { readonly sse: boolean; readonly ms: number; readonly end: StreamEnd },
  ): void {
    if (this.finished) return;
    this.finished = true;
    const { metrics, byCode, logger } = this.out;
    const code = this.refusalCode(answer);
    const failed = answer.status === 500 || this.error !== undefined;
    const refused = code !== undefined && !failed;
    if (refused) {
      metrics.addMetric(METRIC.refusals, MetricUnit.Count, 1);
      byCode.addDimension('code', code);
      byCode.addMetric(METRIC.refusalsByCode, MetricUnit.Count, 1);
      byCode.publishStoredMetrics();
    }
    if (this.forwarded) metrics.addMetric(METRIC.proxiedCalls, MetricUnit.Count, 1);
    if (stream?.sse) metrics.addMetric(METRIC.streamDuration, MetricUnit.Milliseconds, round(stream.ms));
    const line = {
      ...this.fields,
      status: answer.status,
      durationMs: round(performance.now() - this.startedAt),
      ...(code ? { code } : {}),
      ...(stream?.sse ? { streamMs: round(stream.ms) } : {}),
      ...(stream && (stream.sse || stream.end !== 'complete') ? { streamEnd: stream.end } : {}),
      ...(this.error !== undefined ? { error: describeError(this.error) } : {}),
    };
    if (failed) logger.error('request failed', line);
    else if (refused) logger.warn('request refused', line);
    else logger.info('request', line);
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  }
}

/** What a handler factory holds: begins one {@link RequestTelemetry} per invocation. */
export interface FunctionTelemetry {
  begin(event: APIGatewayProxyEvent, context: Context | undefined): RequestTelemetry;
}

/**
 * The telemetry of the function `name` (cimd, login, connect, callback, authorization, proxy: the
 * value CDK also sets as MCP_EDGE_FUNCTION). In the local gateway all six share one process and
 * one output; each line still names its own function.
 */
export function functionTelemetry(name: string, out: TelemetryOutput = telemetryOutput()): FunctionTelemetry {
  return { begin: (event, context) => new RequestTelemetry(out, name, event, context) };
}
