/**
 * The rules for a route's MCP endpoint path, free of the config schema's dependencies (the proxy
 * derives each route's path at start-up and must not load the schema library).
 */

/**
 * A route's MCP endpoint path (`routes[].path`): `/` or `/segment/...` of API Gateway resource
 * characters, no trailing `/`, and not under the gateway's own `/.well-known/` or `/.pomerium/`.
 */
export function describeMcpPathProblem(value: string): string | undefined {
  const expected =
    'must be "/" or a path like "/mcp" (segments of letters, digits, "-", "_", "."; no trailing "/")';
  if (value === '/') return undefined;
  if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(value)) return `${expected}, got ${JSON.stringify(value)}`;
  if (value.split('/').some((segment) => segment === '.' || segment === '..')) {
    return `${expected}; "." and ".." segments are refused, got ${JSON.stringify(value)}`;
  }
  if (/^\/\.(well-known|pomerium)(\/|$)/.test(value)) {
    return `must not be under /.well-known/ or /.pomerium/ (the gateway's own endpoints), got ${JSON.stringify(value)}`;
  }
  return undefined;
}

/** The path of a URL as `routes[].path` would write it: `/` or without the trailing `/`. */
export function mcpPathOf(to: string): string {
  const path = new URL(to).pathname;
  return path.length > 1 ? path.replace(/\/+$/, '') || '/' : '/';
}
