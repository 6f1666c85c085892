import { type ClientMessage, jsonRpcError } from './jsonrpc.ts';

/**
 * MCP 2026-07-28 mirrors the JSON-RPC method (and the tool, prompt or resource it names) in the
 * `Mcp-Method` / `Mcp-Name` headers so intermediaries can route without reading bodies. The proxy
 * forwards those headers, so they must say what the body says: a mismatch is `400` with JSON-RPC
 * error -32020 before anything goes upstream.
 */
export function checkMethodHeaders(headers: Headers, message: ClientMessage): Response | undefined {
  const method = headers.get('mcp-method');
  if (method !== null && method !== message.method) {
    return jsonRpcError(400, message.id, -32020, 'The Mcp-Method header does not match the request body.');
  }
  const name = headers.get('mcp-name');
  if (name !== null) {
    const params = message.params ?? {};
    const named =
      typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
    if (name !== named) {
      return jsonRpcError(400, message.id, -32020, 'The Mcp-Name header does not match the request body.');
    }
  }
  return undefined;
}
