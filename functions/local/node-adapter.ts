import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { ResponseStreamRuntime } from '../adapters/streaming.ts';

/** What an API Gateway REST API would accept as a request payload (10 MB); larger gets 413 here too. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * API Gateway's cap on "the total combined size of request line and header values" of a REST API
 * request (a quota that cannot be raised). It counts what API Gateway receives, which is the
 * client's request plus the headers CloudFront adds on the way.
 */
export const API_GATEWAY_MAX_HEAD_BYTES = 10_240;

/**
 * Room for what CloudFront adds before API Gateway counts: `Via` (about 70 bytes), `X-Amz-Cf-Id`
 * (about 70), `X-Forwarded-For` (up to about 60) and the origin-verify header (about 75), about 280
 * bytes in all, rounded up so a header CloudFront may add later does not break working flows.
 */
export const CLOUDFRONT_HEAD_ALLOWANCE_BYTES = 512;

/**
 * The most a client may send as request line plus headers, counted as sent (`Name: value` lines
 * with their line ends): a request the local gateway accepts also fits API Gateway's limit after
 * CloudFront, so no flow that works locally can fail in AWS on header size.
 */
export const MAX_REQUEST_HEAD_BYTES = API_GATEWAY_MAX_HEAD_BYTES - CLOUDFRONT_HEAD_ALLOWANCE_BYTES;

/**
 * The size of a request's head as the client sent it: the request line, each header line and the
 * blank line. Node hands header values and the target over as latin1, one character per byte.
 * Whatever space the client put around a value is not counted, so this errs on the low side by
 * that much.
 */
export function requestHeadBytes(req: IncomingMessage): number {
  let size = `${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}\r\n`.length;
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    size += req.rawHeaders[i]!.length + 2 + req.rawHeaders[i + 1]!.length + 2;
  }
  return size + 2;
}

const HEAD_TOO_LARGE_BODY = JSON.stringify({ message: 'Request Header Fields Too Large' });

/**
 * The answer to a request over {@link MAX_REQUEST_HEAD_BYTES}. AWS documents the limit but not the
 * answer, so this is our choice: 431 (RFC 6585 §5) with a body in API Gateway's own error shape
 * (`{"message": ...}`), given before routing as API Gateway would, and the connection closed.
 */
export const HEAD_TOO_LARGE_RESULT: APIGatewayProxyResult = {
  statusCode: 431,
  headers: {
    'content-type': 'application/json',
    'content-length': String(HEAD_TOO_LARGE_BODY.length),
    connection: 'close',
  },
  body: HEAD_TOO_LARGE_BODY,
};

/**
 * {@link HEAD_TOO_LARGE_RESULT} as raw bytes, for a head so large that Node's parser gave up
 * (past its 16 KiB `maxHeaderSize`) and there is no request object to answer through.
 */
export const HEAD_TOO_LARGE_RAW = [
  'HTTP/1.1 431 Request Header Fields Too Large',
  'Content-Type: application/json',
  `Content-Length: ${HEAD_TOO_LARGE_BODY.length}`,
  'Connection: close',
  '',
  HEAD_TOO_LARGE_BODY,
].join('\r\n');

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Turns a Node request into the API Gateway REST proxy event Lambda would receive, so the
 * local gateway runs the very same handlers. `domainName` carries the Host, as a custom
 * domain does in AWS.
 */
export async function nodeRequestToEvent(req: IncomingMessage): Promise<APIGatewayProxyEvent> {
  const url = new URL(req.url ?? '/', 'https://local.invalid');
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const key = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    headers[key] = headers[key] === undefined ? value : `${headers[key]},${value}`;
    multiValueHeaders[key] = [...(multiValueHeaders[key] ?? []), value];
  }
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [key, value] of url.searchParams) {
    query[key] = value;
    multiQuery[key] = [...(multiQuery[key] ?? []), value];
  }
  const method = (req.method ?? 'GET').toUpperCase();
  const body = method === 'GET' || method === 'HEAD' ? Buffer.alloc(0) : await readBody(req, MAX_BODY_BYTES);
  const host = req.headers.host ?? '';
  return {
    resource: url.pathname,
    path: url.pathname,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: url.search ? query : null,
    multiValueQueryStringParameters: url.search ? multiQuery : null,
    pathParameters: null,
    stageVariables: null,
    body: body.length > 0 ? body.toString('base64') : null,
    isBase64Encoded: body.length > 0,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      authorizer: undefined,
      domainName: host,
      httpMethod: method,
      path: url.pathname,
      protocol: `HTTP/${req.httpVersion}`,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: url.pathname,
      stage: 'local',
      identity: {
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: req.headers['user-agent'] ?? null,
      } as APIGatewayProxyEvent['requestContext']['identity'],
    },
  };
}

/** Writes an API Gateway proxy result to a Node response (Node drops the body of HEAD answers). */
export function writeResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(result.headers ?? {})) headers[key.toLowerCase()] = String(value);
  for (const [key, values] of Object.entries(result.multiValueHeaders ?? {}))
    headers[key.toLowerCase()] = values.map(String);
  res.writeHead(result.statusCode, headers);
  res.end(result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : undefined);
}

/** The bits of a Lambda context our handlers may read. */
export function localContext(functionName: string): Context {
  const start = Date.now();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/local/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, 30_000 - (Date.now() - start)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * The local stand-in for `awslambda.HttpResponseStream`: the response stream a streaming handler
 * gets is the Node response itself, and the prelude metadata becomes its head, sent at once so
 * the client sees headers before the first body byte (as with Lambda response streaming).
 */
export const localResponseStream: ResponseStreamRuntime = {
  from(stream, metadata) {
    const res = stream as ServerResponse;
    const headers: Record<string, string | string[]> = { ...metadata.headers };
    if (metadata.cookies.length > 0) headers['set-cookie'] = metadata.cookies;
    res.writeHead(metadata.statusCode, headers);
    res.flushHeaders();
    return res;
  },
};
