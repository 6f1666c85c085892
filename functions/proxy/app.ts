import type { Services } from '../adapters/services.ts';
import { type ResponseStreamRuntime, streamingWebHandler } from '../adapters/streaming.ts';
import { createMcpProxy } from '../core/proxy/mcp-endpoint.ts';

/** The proxy function: each route's MCP endpoint, response-streaming. */
export function createProxyHandler(
  services: Services,
  originSecret: string | undefined,
  runtime: ResponseStreamRuntime,
) {
  if (!services.proxy) throw new Error('the proxy function needs the token verifier and its sealing key');
  return streamingWebHandler(createMcpProxy(services.proxy), originSecret, runtime);
}
