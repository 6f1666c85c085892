/**
 * The endpoint table: the one list of paths each route host answers. API Gateway's
 * resources and methods (lib/) and the local gateway's router (functions/local/) are both
 * generated from it, so a new endpoint is one row here plus its handler.
 *
 * Most paths are the same on every route. Two depend on the route's MCP endpoint path
 * (`routes[].path`, default the path of `to`): the MCP endpoint itself and its path-suffixed
 * protected resource metadata (RFC 9728 §3.1). Those rows name a {@link RoutePath} and are
 * expanded per route; API Gateway gets the union over all routes, and each function checks the
 * request's path against its own route.
 */
import { resourceMetadataPath } from './routes.ts';

/** A Lambda function; its code lives in `functions/<name>/handler.ts`. */
export type FunctionName = 'cimd' | 'login' | 'connect' | 'callback' | 'authorization' | 'proxy';

export type HttpMethod = 'GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A path derived from the route's MCP path: the endpoint itself, or its protected resource metadata. */
export type RoutePath = 'mcp' | 'mcp-resource-metadata';

/**
 * How hard an endpoint is limited in AWS. `entry`: anyone may call it without a credential, and each
 * call can cost a table write, a KMS signature or an identity-provider round trip (sign-in, OAuth
 * authorize, token, registration, revocation); API Gateway throttles these methods below the stage
 * and AWS WAF gives each client address a smaller budget for them. `standard`: the stage's limits
 * (the MCP endpoint, metadata, pages behind a session).
 */
export type ThrottlingClass = 'entry' | 'standard';

export interface Endpoint {
  /** An exact path, or a path that depends on the route's MCP path. */
  readonly path: string | { readonly route: RoutePath };
  readonly methods: readonly HttpMethod[];
  readonly function: FunctionName;
  /** True when CloudFront may cache the response (only the CIMD). */
  readonly cacheable: boolean;
  /** See {@link ThrottlingClass}. */
  readonly throttling: ThrottlingClass;
}

const METADATA: readonly HttpMethod[] = ['GET', 'HEAD', 'OPTIONS'];
const OAUTH_POST: readonly HttpMethod[] = ['POST', 'OPTIONS'];

export const ENDPOINTS: readonly Endpoint[] = [
  {
    path: '/.well-known/mcp-client-metadata.json',
    methods: METADATA,
    function: 'cimd',
    cacheable: true,
    throttling: 'standard',
  },
  {
    path: '/.pomerium/oauth/callback',
    methods: ['GET'],
    function: 'callback',
    cacheable: false,
    throttling: 'standard',
  },
  { path: '/.pomerium/login', methods: ['GET'], function: 'login', cacheable: false, throttling: 'entry' },
  {
    path: '/.pomerium/login/callback',
    methods: ['GET'],
    function: 'login',
    cacheable: false,
    throttling: 'entry',
  },
  {
    path: '/.pomerium/logout',
    // GET: the sign-out page (and where the identity provider returns after its sign-out); POST signs out.
    methods: ['GET', 'POST'],
    function: 'login',
    cacheable: false,
    throttling: 'standard',
  },
  {
    path: '/.pomerium/connect',
    methods: ['GET'],
    function: 'connect',
    cacheable: false,
    throttling: 'standard',
  },
  {
    path: '/.pomerium/connections',
    methods: ['GET'],
    function: 'connect',
    cacheable: false,
    throttling: 'standard',
  },
  {
    path: '/.pomerium/disconnect',
    methods: ['POST'],
    function: 'connect',
    cacheable: false,
    throttling: 'standard',
  },
  // The route as an OAuth authorization server and protected resource (toward MCP clients).
  {
    path: '/.well-known/oauth-protected-resource',
    methods: METADATA,
    function: 'authorization',
    cacheable: false,
    throttling: 'standard',
  },
  {
    path: { route: 'mcp-resource-metadata' },
    methods: METADATA,
    function: 'authorization',
    cacheable: false,
    throttling: 'standard',
  },
  {
    path: '/.well-known/oauth-authorization-server',
    methods: METADATA,
    function: 'authorization',
    cacheable: false,
    throttling: 'standard',
  },
  {
    path: '/.pomerium/mcp/authorize',
    methods: ['GET', 'POST'],
    function: 'authorization',
    cacheable: false,
    throttling: 'entry',
  },
  {
    path: '/.pomerium/mcp/token',
    methods: OAUTH_POST,
    function: 'authorization',
    cacheable: false,
    throttling: 'entry',
  },
  {
    path: '/.pomerium/mcp/register',
    methods: OAUTH_POST,
    function: 'authorization',
    cacheable: false,
    throttling: 'entry',
  },
  {
    path: '/.pomerium/mcp/revoke',
    methods: OAUTH_POST,
    function: 'authorization',
    cacheable: false,
    throttling: 'entry',
  },
  // The route's MCP endpoint (Streamable HTTP).
  {
    path: { route: 'mcp' },
    methods: ['POST', 'GET', 'DELETE', 'OPTIONS'],
    function: 'proxy',
    cacheable: false,
    throttling: 'standard',
  },
];

/** The functions the table names, each once, in table order. */
export function endpointFunctions(): FunctionName[] {
  return [...new Set(ENDPOINTS.map((e) => e.function))];
}

/** The concrete path of a row for a route with this MCP path. */
export function endpointPath(endpoint: Endpoint, mcpPath: string): string {
  if (typeof endpoint.path === 'string') return endpoint.path;
  return endpoint.path.route === 'mcp' ? mcpPath : resourceMetadataPath(mcpPath);
}

/**
 * Every (path, row) pair for these routes' MCP paths, each path once: what API Gateway creates.
 * A fixed path wins over a route-derived one that happens to equal it (the PRM of an MCP
 * endpoint at `/` is the root PRM document).
 */
export function expandEndpoints(mcpPaths: readonly string[]): { path: string; endpoint: Endpoint }[] {
  const out = new Map<string, Endpoint>();
  for (const endpoint of ENDPOINTS) {
    const paths =
      typeof endpoint.path === 'string' ? [endpoint.path] : mcpPaths.map((p) => endpointPath(endpoint, p));
    for (const path of paths) if (!out.has(path)) out.set(path, endpoint);
  }
  return [...out].map(([path, endpoint]) => ({ path, endpoint }));
}

/**
 * The row serving a path on a route with this MCP path, or `undefined` when no endpoint serves
 * it. Methods are checked by the handler.
 */
export function findEndpoint(path: string, mcpPath: string): Endpoint | undefined {
  return (
    ENDPOINTS.find((e) => typeof e.path === 'string' && e.path === path) ??
    ENDPOINTS.find((e) => typeof e.path !== 'string' && endpointPath(e, mcpPath) === path)
  );
}
