/**
 * The endpoint table: the one list of paths each route host answers. API Gateway's
 * resources and methods (lib/) and the local gateway's router (functions/local/) are both
 * generated from it, so a new endpoint is one row here plus its handler.
 */

/** A Lambda function; its code lives in `functions/<name>/handler.ts`. */
export type FunctionName = 'cimd' | 'login' | 'connect' | 'callback';

export type HttpMethod = 'GET' | 'HEAD' | 'OPTIONS' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Endpoint {
  /** An exact path. */
  readonly path: string;
  readonly methods: readonly HttpMethod[];
  readonly function: FunctionName;
  /** True when CloudFront may cache the response (only the CIMD). */
  readonly cacheable: boolean;
}

export const ENDPOINTS: readonly Endpoint[] = [
  {
    path: '/.well-known/mcp-client-metadata.json',
    methods: ['GET', 'HEAD', 'OPTIONS'],
    function: 'cimd',
    cacheable: true,
  },
  { path: '/.pomerium/oauth/callback', methods: ['GET'], function: 'callback', cacheable: false },
  { path: '/.pomerium/login', methods: ['GET'], function: 'login', cacheable: false },
  { path: '/.pomerium/login/callback', methods: ['GET'], function: 'login', cacheable: false },
  { path: '/.pomerium/logout', methods: ['POST'], function: 'login', cacheable: false },
  { path: '/.pomerium/connect', methods: ['GET'], function: 'connect', cacheable: false },
  { path: '/.pomerium/connections', methods: ['GET'], function: 'connect', cacheable: false },
  { path: '/.pomerium/disconnect', methods: ['POST'], function: 'connect', cacheable: false },
];

/** The functions the table names, each once, in table order. */
export function endpointFunctions(): FunctionName[] {
  return [...new Set(ENDPOINTS.map((e) => e.function))];
}

/** The row for a path, or `undefined` when no endpoint serves it. Methods are checked by the handler. */
export function findEndpoint(path: string): Endpoint | undefined {
  return ENDPOINTS.find((e) => e.path === path);
}
