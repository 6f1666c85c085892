import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '../functions/core/config/load.ts';
import { ConfigError } from '../functions/core/config/parse.ts';
import { type LocalDemo, startLocalDemo } from '../functions/local/demo/start.ts';
import { startLocalGateway } from '../functions/local/gateway.ts';
import { ensureDevCertificate, localSigningKey, localVaultKey } from '../functions/local/tls.ts';
import { parseCommand, usageError } from './args.ts';
import type { Io } from './io.ts';

export const USAGE = `usage: mcp-edge dev [--config FILE] [--tls-cert PEM --tls-key PEM] [--demo | --no-demo]

Runs the local gateway: one HTTPS listener per https://localhost:PORT route, DynamoDB Local,
and the same handlers Lambda runs, with API Gateway's request limits (request line and headers,
body). Stops everything it started on Ctrl-C.

options:
  --config FILE     the config file (.ts, .js, .mjs or .json); default demo/local.config.ts
  --tls-cert PEM    the certificate every listener serves (with --tls-key); without both, a
                    development CA limited to localhost, 127.0.0.1 and ::1 is kept under .local/tls
                    and renewed before it expires (30 days)
  --tls-key PEM     the certificate's private key
  --demo            also run the demo identity provider people sign in with and the demo upstream
                    MCP server with its own authorization server (ports 9443, 9400, 9401); the
                    default without --config
  --no-demo         do not run them (the default with --config)
  -h, --help        show this help

exit codes: 0 stopped, 1 the config is missing or invalid or the gateway could not start,
            2 usage error`;

export const DEFAULT_LOCAL_CONFIG = 'demo/local.config.ts';

const OPTIONS = {
  config: { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  demo: { type: 'boolean' },
  'no-demo': { type: 'boolean' },
} as const;

/** `npm start`: runs until SIGINT/SIGTERM, then stops everything it started. */
export async function run(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  // The AWS SDK warns on every start that its 2027 releases will need Node 22; Lambda runs Node 24,
  // and the local gateway's SDK clients only ever talk to DynamoDB Local, so the notice is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const parsed = parseCommand(io, { name: 'dev', usage: USAGE, options: OPTIONS }, args);
  if (!parsed.ok) return parsed.exitCode;
  const { values, positionals } = parsed;
  if (positionals.length)
    return usageError(io, 'dev', `unexpected argument ${JSON.stringify(positionals[0])}`, USAGE);
  if (values.demo && values['no-demo'])
    return usageError(io, 'dev', '--demo and --no-demo exclude each other', USAGE);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    return usageError(io, 'dev', '--tls-cert and --tls-key go together', USAGE);
  }

  const configPath = values.config ?? DEFAULT_LOCAL_CONFIG;
  let config: Awaited<ReturnType<typeof loadConfig>>;
  try {
    config = await loadConfig(configPath);
  } catch (error) {
    if (error instanceof ConfigError) {
      io.err(`${error.message}\n`);
      return 1;
    }
    throw error;
  }

  let tls: { cert: string; key: string };
  let ca: string | undefined;
  let caNote: string;
  if (values['tls-cert'] && values['tls-key']) {
    try {
      tls = {
        cert: await readFile(values['tls-cert'], 'utf8'),
        key: await readFile(values['tls-key'], 'utf8'),
      };
    } catch (error) {
      io.err(`mcp-edge dev: cannot read the TLS files: ${(error as Error).message}\n`);
      return 1;
    }
    caNote = `TLS: using ${values['tls-cert']}`;
  } else {
    const dev = await ensureDevCertificate(resolve('.local/tls'));
    tls = dev;
    ca = dev.ca;
    caNote = [
      `TLS: development CA ${dev.created ? 'created' : 'reused'} at ${dev.caPath}`,
      `     trust it in Node clients:  export NODE_EXTRA_CA_CERTS=${dev.caPath}`,
      '     in a browser, import it as a trusted authority (or accept the warning once per port)',
    ].join('\n');
  }

  const withDemo = values['no-demo'] ? false : (values.demo ?? values.config === undefined);
  let demo: LocalDemo | undefined;
  let gateway: Awaited<ReturnType<typeof startLocalGateway>>;
  try {
    if (withDemo)
      demo = await startLocalDemo({ routeOrigins: config.routes.map((r) => r.from), tls, ca: ca ?? '' });
    gateway = await startLocalGateway({
      config,
      tls,
      ca,
      vaultKey: await localVaultKey(resolve('.local/vault.key')),
      signingKey: await localSigningKey(resolve('.local/signing-key.pem')),
      sealingKey: await localVaultKey(resolve('.local/sealing.key')),
      idp: demo
        ? { issuer: demo.identityProvider.issuer, clientId: demo.identityProvider.clientId }
        : undefined,
    });
  } catch (error) {
    await demo?.stop();
    io.err(`mcp-edge dev: ${(error as Error).message}\n`);
    return 1;
  }

  const lines = [`MCP Edge local gateway (${configPath})`, caNote];
  if (gateway.dynamo)
    lines.push(`DynamoDB Local: ${gateway.dynamo.endpoint} (table ${gateway.dynamo.tableName})`);
  if (demo) {
    lines.push(
      `demo identity provider: ${demo.identityProvider.issuer} (sign in with any name and password)`,
    );
    lines.push(
      `demo upstream MCP server: ${demo.upstream.mcpUrl} (authorization server ${demo.upstream.issuer})`,
    );
  }
  for (const route of gateway.routes) {
    lines.push(`route ${route.origin} -> ${route.config.to}`);
    lines.push(`  client_name  ${route.clientName}`);
    lines.push(`  CIMD         ${route.cimdUrl}`);
    lines.push(`  callback     ${route.callbackUrl}`);
    lines.push(`  MCP          ${route.resource}  (point MCP clients here)`);
    lines.push(`  PRM          ${route.resourceMetadataUrl}`);
    lines.push(`  issuer       ${route.issuer}`);
    lines.push(`  open         ${route.origin}/.pomerium/connections`);
  }
  lines.push('ready (Ctrl-C stops the gateway and DynamoDB Local)');
  io.out(`${lines.join('\n')}\n`);

  await new Promise<void>((done) => {
    const finish = () => done();
    process.once('SIGINT', finish);
    process.once('SIGTERM', finish);
    signal?.addEventListener('abort', finish, { once: true });
  });
  io.out('stopping…\n');
  await gateway.stop();
  await demo?.stop();
  io.out('stopped\n');
  return 0;
}
