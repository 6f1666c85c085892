import { type ResponseStreamRuntime, streamingWebHandler } from '../adapters/streaming.ts';
import { createMcpProxy, type McpProxyDeps } from '../core/proxy/mcp-endpoint.ts';

/** The proxy function: each route's MCP endpoint, response-streaming. */
export function createProxyHandler(
  proxy: McpProxyDeps,
  originSecret: string | undefined,
  runtime: ResponseStreamRuntime,
) {
  return streamingWebHandler(createMcpProxy(proxy), originSecret, runtime, 'proxy');
}
