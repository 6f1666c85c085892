import { loadConfig } from '../functions/core/config/load.ts';
import { ConfigError } from '../functions/core/config/parse.ts';
import { describeRoute } from '../functions/core/routes.ts';
import { parseCommand, usageError } from './args.ts';
import type { Io } from './io.ts';

export const USAGE = `usage: mcp-edge routes [--config FILE] [--json]

Lists every route in the config: its generated client_name, CIMD URL and OAuth callback URL (the\nroute as a client upstream), and its MCP endpoint, protected resource metadata (PRM) URL and issuer\n(the route toward MCP clients).

options:
  --config FILE   the config file (.ts, .js, .mjs or .json); default gateway.config.ts
  --json          print JSON instead of text
  -h, --help      show this help

exit codes: 0 listed, 1 the config is missing or invalid, 2 usage error`;

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const DEFAULT_CONFIG = 'gateway.config.ts';

/** `mcp-edge routes`: what each route publishes, derived exactly as the gateway derives it. */
export async function run(args: string[], io: Io): Promise<number> {
  const parsed = parseCommand(io, { name: 'routes', usage: USAGE, options: OPTIONS }, args);
  if (!parsed.ok) return parsed.exitCode;
  const { values, positionals } = parsed;
  if (positionals.length) {
    return usageError(io, 'routes', `unexpected argument ${JSON.stringify(positionals[0])}`, USAGE);
  }

  const file = values.config ?? DEFAULT_CONFIG;
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(file);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(`${error.message}\n`);
    return 1;
  }

  const routes = config.routes.map((routeConfig) => {
    const route = describeRoute(routeConfig);
    return {
      from: route.origin,
      to: routeConfig.to,
      ...(routeConfig.name ? { name: routeConfig.name } : {}),
      clientName: route.clientName,
      cimdUrl: route.cimdUrl,
      callbackUrl: route.callbackUrl,
      mcpEndpoint: route.resource,
      resourceMetadataUrl: route.resourceMetadataUrl,
      issuer: route.issuer,
    };
  });

  if (values.json) {
    io.out(`${JSON.stringify({ config: file, routes }, null, 2)}\n`);
    return 0;
  }
  const lines = [`${routes.length} route${routes.length === 1 ? '' : 's'} in ${file}`];
  for (const route of routes) {
    lines.push(
      '',
      `${route.from} -> ${route.to}`,
      `  client_name   ${route.clientName}`,
      `  CIMD URL      ${route.cimdUrl}`,
      `  callback URL  ${route.callbackUrl}`,
      `  MCP endpoint  ${route.mcpEndpoint}`,
      `  PRM           ${route.resourceMetadataUrl}`,
      `  issuer        ${route.issuer}`,
    );
  }
  io.out(`${lines.join('\n')}\n`);
  return 0;
}
