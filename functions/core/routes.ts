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
  return {
    config,
    origin: config.from,
    host: url.host,
    hostname: url.hostname,
    cimdUrl: `${config.from}${CIMD_PATH}`,
    callbackUrl: `${config.from}${CALLBACK_PATH}`,
    clientName: clientNameFor(config),
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
