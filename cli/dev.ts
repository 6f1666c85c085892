import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../functions/core/config/load.ts';
import { ConfigError } from '../functions/core/config/parse.ts';
import { type LocalDemo, startLocalDemo } from '../functions/local/demo/start.ts';
import { startLocalGateway } from '../functions/local/gateway.ts';
import { ensureDevCertificate, localSigningKey, localVaultKey } from '../functions/local/tls.ts';
import type { Io } from './io.ts';

const USAGE = `usage: mcp-edge dev [--config FILE] [--tls-cert PEM --tls-key PEM] [--demo | --no-demo]

Runs the local gateway: one HTTPS listener per https://localhost:PORT route, DynamoDB Local,
and the same handlers Lambda runs. Default config: demo/local.config.ts.
Without --tls-cert/--tls-key a development CA is created under .local/tls on first run.
--demo (the default without --config) also runs the demo identity provider people sign in with
and the demo upstream MCP server with its own authorization server (ports 9443, 9400, 9401).`;

export const DEFAULT_LOCAL_CONFIG = 'demo/local.config.ts';

/** `npm start`: runs until SIGINT/SIGTERM, then stops everything it started. */
export async function run(args: string[], io: Io, signal?: AbortSignal): Promise<number> {
  // The AWS SDK warns on every start that its 2027 releases will need Node 22; Lambda runs Node 24,
  // and the local gateway's SDK clients only ever talk to DynamoDB Local, so the notice is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let values: {
    config?: string;
    'tls-cert'?: string;
    'tls-key'?: string;
    demo?: boolean;
    'no-demo'?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        demo: { type: 'boolean' },
        'no-demo': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    io.err(`mcp-edge dev: ${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    io.out(`${USAGE}\n`);
    return 0;
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) {
    io.err(`mcp-edge dev: --tls-cert and --tls-key go together\n\n${USAGE}\n`);
    return 2;
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
