import type { AccessTokenVerifier } from '../authorization/access-token.ts';
import { HttpError, jsonResponse } from '../http/errors.ts';
import type { RouteTable } from '../routes.ts';
import { routeOf } from '../web/request-context.ts';
import { authenticate, MCP_CORS } from './inbound-auth.ts';

export interface McpEndpointDeps {
  readonly routes: RouteTable;
  readonly verify: AccessTokenVerifier;
}

const METHODS = 'POST, GET, DELETE, OPTIONS';

/**
 * The route's MCP endpoint (`from` + `routes[].path`). This step authenticates callers with the
 * gateway's tokens, so MCP clients can discover and use the authorization server; forwarding an
 * authenticated call upstream is the proxy's next step and is answered `501` until it lands.
 */
export function createMcpEndpoint(deps: McpEndpointDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const route = routeOf(deps.routes, url);
    if (url.pathname !== route.mcpPath)
      throw new HttpError(404, 'not_found', 'Nothing is served at this path.');
    if (request.method === 'OPTIONS') {
      return new Response(null, {
        status: 204,
        headers: {
          ...MCP_CORS,
          'access-control-allow-methods': METHODS,
          'access-control-allow-headers':
            'authorization, content-type, accept, mcp-protocol-version, mcp-session-id, last-event-id, mcp-method, mcp-name',
          'access-control-max-age': '600',
        },
      });
    }
    if (!['POST', 'GET', 'DELETE'].includes(request.method)) {
      throw new HttpError(405, 'method_not_allowed', `Use ${METHODS}.`, { allow: METHODS });
    }
    const auth = await authenticate(deps.verify, request, route);
    if (!auth.ok) return auth.response;
    return jsonResponse(
      501,
      {
        jsonrpc: '2.0',
        id: null,
        error: {
          code: -32603,
          message: 'This gateway authenticated the call but does not forward MCP calls yet.',
        },
      },
      MCP_CORS,
    );
  };
}
