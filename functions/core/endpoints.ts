/**
 * The endpoint table: the one list of paths each route host answers. API Gateway's
 * resources and methods (lib/) and the local gateway's router (functions/local/) are both
 * generated from it, so a new endpoint is one row here plus its handler.
 */

/** A Lambda function; its code lives in `functions/<name>/handler.ts`. */
export type FunctionName = 'cimd';

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
];

/** The functions the table names, each once, in table order. */
export function endpointFunctions(): FunctionName[] {
  return [...new Set(ENDPOINTS.map((e) => e.function))];
}

/** The row for a path, or `undefined` when no endpoint serves it. Methods are checked by the handler. */
export function findEndpoint(path: string): Endpoint | undefined {
  return ENDPOINTS.find((e) => e.path === path);
}
