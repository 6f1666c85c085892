import { z } from 'zod';
import { formatConfigIssues } from '../core/config/parse.ts';
import { type RouteConfig, routeSchema } from '../core/config/schema.ts';

/**
 * Reads the settings CDK gives every function. A function fails at start-up, not per request,
 * when they are missing: a deployment without the origin secret must not serve at all.
 */
export function lambdaSettings(env: NodeJS.ProcessEnv): { routes: RouteConfig[]; originSecret: string } {
  const originSecret = env.MCP_EDGE_ORIGIN_VERIFY;
  if (!originSecret) throw new Error('MCP_EDGE_ORIGIN_VERIFY is not set');
  let raw: unknown;
  try {
    raw = JSON.parse(env.MCP_EDGE_ROUTES ?? '');
  } catch {
    throw new Error('MCP_EDGE_ROUTES is not valid JSON');
  }
  const parsed = z.array(routeSchema).safeParse(raw);
  if (!parsed.success)
    throw new Error(`MCP_EDGE_ROUTES is invalid: ${formatConfigIssues(parsed.error.issues).join('; ')}`);
  return { routes: parsed.data, originSecret };
}
