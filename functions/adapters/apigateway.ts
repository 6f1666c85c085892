import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { HttpError } from '../core/http/errors.ts';

/** Header lookup that ignores case, as HTTP does. */
function header(event: APIGatewayProxyEvent, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === lower && value !== undefined) return value;
  }
  return undefined;
}

/**
 * The one converter from an API Gateway REST proxy event to a web-standard `Request`.
 * The host is the custom domain API Gateway matched (`requestContext.domainName`), which is
 * the route host CloudFront forwarded; the local gateway fills the same field.
 */
export function eventToRequest(event: APIGatewayProxyEvent, signal?: AbortSignal): Request {
  const host = event.requestContext?.domainName || header(event, 'host');
  if (!host || !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) {
    throw new HttpError('invalid_host');
  }
  const query = new URLSearchParams();
  for (const [key, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    for (const value of values ?? []) query.append(key, value);
  }
  if (!event.multiValueQueryStringParameters) {
    for (const [key, value] of Object.entries(event.queryStringParameters ?? {})) {
      if (value !== undefined) query.append(key, value);
    }
  }
  let url: URL;
  try {
    url = new URL(`https://${host}${event.path.startsWith('/') ? '' : '/'}${event.path}`);
  } catch {
    throw new HttpError('invalid_path');
  }
  url.search = query.toString();

  const headers = new Headers();
  // A header the Fetch API cannot represent (a NUL, a character above U+00FF) is dropped rather
  // than failing the whole request: one odd parent-domain cookie must not break a browser's session.
  const add = (key: string, value: string) => {
    try {
      // Several Cookie fields are one list joined by "; " (RFC 9113 §8.2.3); Headers would join them
      // with ", ", which reads as one cookie's value.
      const cookies = key.toLowerCase() === 'cookie' ? headers.get('cookie') : null;
      if (cookies !== null) headers.set('cookie', `${cookies}; ${value}`);
      else headers.append(key, value);
    } catch {
      // not representable as a Fetch header; ignored
    }
  };
  for (const [key, values] of Object.entries(event.multiValueHeaders ?? {})) {
    for (const value of values ?? []) add(key, value);
  }
  if (!event.multiValueHeaders) {
    for (const [key, value] of Object.entries(event.headers ?? {})) {
      if (value !== undefined) add(key, value);
    }
  }
  const method = event.httpMethod.toUpperCase();
  const hasBody = event.body != null && method !== 'GET' && method !== 'HEAD';
  return new Request(url, {
    method,
    headers,
    body: hasBody ? Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8') : null,
    ...(signal ? { signal } : {}),
  });
}

const TEXTUAL = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)|[^;]*\+json|[^;]*\+xml)/i;

/** The one converter back: a `Response` to an API Gateway proxy result (binary bodies base64). */
export async function responseToResult(response: Response): Promise<APIGatewayProxyResult> {
  const multiValueHeaders: Record<string, string[]> = {};
  response.headers.forEach((value, key) => {
    if (key === 'set-cookie') return;
    multiValueHeaders[key] = [value];
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) multiValueHeaders['set-cookie'] = cookies;
  const bytes = Buffer.from(await response.arrayBuffer());
  const textual = TEXTUAL.test(response.headers.get('content-type') ?? 'text/plain');
  return {
    statusCode: response.status,
    multiValueHeaders,
    body: textual ? bytes.toString('utf8') : bytes.toString('base64'),
    isBase64Encoded: !textual && bytes.length > 0,
  };
}
