import { mcpPathOf } from './config/mcp-path.ts';
import type { RouteConfig } from './config/schema.ts';

/** Where every route serves its Client ID Metadata Document (route-side seed). */
export const CIMD_PATH = '/.well-known/mcp-client-metadata.json';
/** Where every route receives the upstream authorization server's redirect (route-side seed). */
export const CALLBACK_PATH = '/.pomerium/oauth/callback';

/** A route with everything derived from its config entry; built once at start-up. */
export interface Route {
  readonly config: RouteConfig;
  /** `https://host[:port]`, exactly as configured. */
  readonly origin: string;
  /** `host[:port]`, the key requests are matched on (the Host header). */
  readonly host: string;
  readonly hostname: string;
  readonly cimdUrl: string;
  readonly callbackUrl: string;
  readonly clientName: string;
  /** The route's MCP endpoint path: `routes[].path`, else the path of `to`. */
  readonly mcpPath: string;
  /**
   * The route as a protected resource (RFC 9728): its MCP endpoint URL. Gateway access tokens
   * carry it as `aud`, so a token issued on one route is refused on every other.
   */
  readonly resource: string;
  /** The route as an authorization server (RFC 8414): its issuer is the route origin. */
  readonly issuer: string;
  /** Where its protected resource metadata is served (RFC 9728 §3.1, path-suffixed). */
  readonly resourceMetadataUrl: string;
}

/** RFC 9728 §3.1: the well-known prefix inserted before the resource's path. */
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';

/** The protected resource metadata path for an MCP path (`/` → the root document). */
export function resourceMetadataPath(mcpPath: string): string {
  return mcpPath === '/' ? PROTECTED_RESOURCE_METADATA_PATH : `${PROTECTED_RESOURCE_METADATA_PATH}${mcpPath}`;
}

/**
 * The generated `client_name`: `clientName` when set, else the route's `name`, else
 * one derived from the host, so a person on the upstream's consent screen sees which
 * gateway route is asking.
 */
export function clientNameFor(route: Pick<RouteConfig, 'from' | 'name' | 'clientName'>): string {
  if (route.clientName) return route.clientName;
  const host = new URL(route.from).host;
  return route.name ? `${route.name} (MCP Edge - ${host})` : `MCP Edge - ${host}`;
}

export function describeRoute(config: RouteConfig): Route {
  const url = new URL(config.from);
  const mcpPath = config.path ?? mcpPathOf(config.to);
  return {
    config,
    origin: config.from,
    host: url.host,
    hostname: url.hostname,
    cimdUrl: `${config.from}${CIMD_PATH}`,
    callbackUrl: `${config.from}${CALLBACK_PATH}`,
    clientName: clientNameFor(config),
    mcpPath,
    resource: `${config.from}${mcpPath}`,
    issuer: config.from,
    resourceMetadataUrl: `${config.from}${resourceMetadataPath(mcpPath)}`,
  };
}

/** Looks routes up by the request's host (`host[:port]`, case-insensitive). */
export class RouteTable {
  private readonly byHost = new Map<string, Route>();

  constructor(routes: readonly RouteConfig[]) {
    for (const config of routes) {
      const route = describeRoute(config);
      this.byHost.set(route.host.toLowerCase(), route);
    }
  }

  get routes(): Route[] {
    return [...this.byHost.values()];
  }

  /** The route for a `Host` header value, or `undefined` for a host we do not serve. */
  forHost(host: string | null | undefined): Route | undefined {
    if (!host) return undefined;
    return this.byHost.get(host.toLowerCase().replace(/\.$/, ''));
  }
}
