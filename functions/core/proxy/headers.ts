import type { IncomingHttpHeaders } from 'node:http';

/**
 * Which headers cross the proxy (DESIGN "Forwarding"). Toward the upstream only what MCP needs:
 * never the client's `Authorization` (no token passthrough), cookies, the origin secret,
 * `X-Forwarded-*`, CloudFront or hop-by-hop headers. Back to the client only what MCP needs:
 * never `Set-Cookie` or the upstream's own auth challenge.
 */
const REQUEST_HEADERS = new Set([
  'content-type',
  'accept',
  'mcp-protocol-version',
  'last-event-id',
  'mcp-method',
  'mcp-name',
  'traceparent',
]);

const RESPONSE_HEADERS = new Set(['content-type', 'mcp-protocol-version']);

/** Control characters `node:http` refuses in a header value (the Fetch API lets some through). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** The client's headers the upstream may see (the session id is added by the caller, unsealed). */
export function upstreamRequestHeaders(incoming: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  incoming.forEach((value, name) => {
    if (!(REQUEST_HEADERS.has(name) || name.startsWith('mcp-param-'))) return;
    // Not forwardable as is: dropped rather than failing the call.
    if (!CONTROL.test(value)) out[name] = value;
  });
  return out;
}

/** The upstream's headers the client may see (the session id is added by the caller, sealed). */
export function clientResponseHeaders(upstream: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || !RESPONSE_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
