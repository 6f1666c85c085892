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
  const gateway = await startLocalGateway({ config: parsed.config, tls: cert, ca: cert.ca, ...options });
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
