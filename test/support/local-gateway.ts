import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../functions/core/config/parse.ts';
import type { GatewayConfigInput } from '../../functions/core/config/schema.ts';
import {
  type LocalGateway,
  type LocalGatewayOptions,
  startLocalGateway,
} from '../../functions/local/gateway.ts';
import { freePort } from '../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../functions/local/tls.ts';
import { recordKey, recordPemKey } from './secrets.ts';

/**
 * New keys for a local gateway (vault, sealing, token signing), recorded for the run's log check;
 * the gateway would otherwise make its own, which no test could look for in the logs.
 */
export function gatewayKeys(): Pick<LocalGatewayOptions, 'vaultKey' | 'sealingKey' | 'signingKey'> {
  const vaultKey = randomBytes(32);
  const sealingKey = randomBytes(32);
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
  recordKey('vault key', vaultKey);
  recordKey('sealing key', sealingKey);
  recordPemKey('signing key', signingKey);
  return { vaultKey, sealingKey, signingKey };
}

export interface TestGateway {
  gateway: LocalGateway;
  cert: DevCertificate;
  origins: string[];
  stop(): Promise<void>;
}

/**
 * Starts the real local gateway on fresh ports with a throw-away development CA.
 * `routes` receives the chosen origins and returns the route entries.
 */
export async function startTestGateway(
  count: number,
  routes: (origins: string[]) => GatewayConfigInput['routes'],
  options: Omit<LocalGatewayOptions, 'config' | 'tls'> = {},
): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-edge-tls-'));
  const cert = await ensureDevCertificate(dir);
  const origins: string[] = [];
  for (let i = 0; i < count; i++) origins.push(`https://localhost:${await freePort()}`);
  const parsed = parseConfig({ routes: routes(origins) });
  if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
  const gateway = await startLocalGateway({
    config: parsed.config,
    tls: cert,
    ca: cert.ca,
    ...gatewayKeys(),
    ...options,
  });
  return {
    gateway,
    cert,
    origins,
    stop: async () => {
      await gateway.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
