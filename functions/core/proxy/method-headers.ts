import { type ClientMessage, jsonRpcRefusal } from './jsonrpc.ts';

/** Which body field `Mcp-Name` mirrors, by method (MCP 2026-07-28; the SDK's MCP_NAME_HEADER_SOURCE). */
const NAME_SOURCE: Record<string, 'name' | 'uri' | 'taskId'> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
  'tasks/get': 'taskId',
  'tasks/update': 'taskId',
  'tasks/cancel': 'taskId',
};

const SENTINEL = /^=\?base64\?([A-Za-z0-9+/]*={0,2})\?=$/;

/**
 * A header value as MCP 2026-07-28 writes it: plain, or `=?base64?…?=` for values that are not
 * plain printable ASCII (non-ASCII, surrounding spaces, empty).
 */
export function decodeHeaderValue(value: string): string {
  const match = SENTINEL.exec(value);
  return match ? Buffer.from(match[1]!, 'base64').toString('utf8') : value;
}

/**
 * MCP 2026-07-28 mirrors the JSON-RPC method (and the tool, prompt, resource or task it names) in
 * the `Mcp-Method` / `Mcp-Name` headers so intermediaries can route without reading bodies. The
 * proxy forwards those headers, so they must say what the body says: a mismatch is `400` with
 * JSON-RPC error -32020 before anything goes upstream. For a method without a named field the
 * upstream judges `Mcp-Name` itself.
 */
export function checkMethodHeaders(headers: Headers, message: ClientMessage): Response | undefined {
  const method = headers.get('mcp-method');
  if (method !== null && method !== message.method) {
    return jsonRpcRefusal('mcp_method_mismatch', message.id);
  }
  const name = headers.get('mcp-name');
  const source = message.method ? NAME_SOURCE[message.method] : undefined;
  if (name !== null && source) {
    const value = message.params?.[source];
    if (typeof value !== 'string' || decodeHeaderValue(name) !== value) {
      return jsonRpcRefusal('mcp_name_mismatch', message.id);
    }
  }
  return undefined;
}
