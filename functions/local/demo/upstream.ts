import type Provider from 'oidc-provider';
import { createDemoAuthorizationServer, DEMO_MCP_SCOPE } from './authorization-server.ts';
import type { RequestHandler } from './https-listener.ts';
import { type DemoTls, type HttpsListener, listenHttps } from './https-listener.ts';
import { type DemoMcpServerOptions, demoMcpHandler } from './mcp-server.ts';

export interface DemoUpstreamOptions {
  /** Port of the MCP server on 127.0.0.1; 0 picks a free one. */
  readonly port: number;
  /** Port of its authorization server on 127.0.0.1; 0 picks a free one. */
  readonly asPort: number;
  /** The development certificate both serve. */
  readonly tls: DemoTls;
  /** PEM CA the authorization server trusts when fetching the gateway's CIMDs. */
  readonly ca: string;
  /** Access-token lifetime in seconds; default 600. Short values let tests and people see refreshes. */
  readonly accessTokenTtl?: number;
  /**
   * The MCP server behind `/mcp` (default: the demo's stateless tools). Tests give their own
   * upstreams (sessions, streams, 2026-07-28) the same resource, issuer, keys and scope.
   */
  readonly mcp?: (options: DemoMcpServerOptions) => RequestHandler;
}

export interface DemoUpstream {
  /** `https://localhost:PORT/mcp` — the route's `to`. */
  readonly mcpUrl: string;
  /** `https://localhost:ASPORT` */
  readonly issuer: string;
  readonly authorizationServer: Provider;
  /** How many requests reached the token endpoint (code redemptions and refreshes). */
  tokenRequests(): number;
  /** Client ID Metadata Document URLs the authorization server fetched, in order. */
  readonly fetchedCimds: string[];
  stop(): Promise<void>;
}

/**
 * The local demo's upstream: an MCP server that is an OAuth protected resource, and the
 * authorization server it trusts, which accepts CIMD client IDs — the party the gateway's
 * routes are OAuth clients of. Both listen on 127.0.0.1 over HTTPS with the development
 * certificate.
 */
export async function startDemoUpstream(options: DemoUpstreamOptions): Promise<DemoUpstream> {
  const listeners: HttpsListener[] = [];
  let closeAs: (() => Promise<void>) | undefined;
  const stop = async () => {
    await Promise.all(listeners.map((l) => l.stop()));
    await closeAs?.();
  };
  try {
    const mcp = await listenHttps(options.port, options.tls);
    listeners.push(mcp);
    const as = await listenHttps(options.asPort, options.tls);
    listeners.push(as);
    const mcpUrl = `${mcp.origin}/mcp`;
    const authorizationServer = await createDemoAuthorizationServer({
      issuer: as.origin,
      resource: mcpUrl,
      ca: options.ca,
      accessTokenTtl: options.accessTokenTtl ?? 600,
    });
    closeAs = authorizationServer.close;
    as.serve(authorizationServer.handler);
    mcp.serve(
      (options.mcp ?? demoMcpHandler)({
        resource: mcpUrl,
        issuer: as.origin,
        jwks: authorizationServer.jwks,
        scope: DEMO_MCP_SCOPE,
      }),
    );
    return {
      mcpUrl,
      issuer: as.origin,
      authorizationServer: authorizationServer.provider,
      tokenRequests: authorizationServer.tokenRequests,
      fetchedCimds: authorizationServer.fetchedCimds,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
