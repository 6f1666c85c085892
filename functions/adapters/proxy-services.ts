import type { KeyObject } from 'node:crypto';
import { createAccessTokenVerifier } from '../core/authorization/access-token.ts';
import { CONNECT_LINKS_KEY, createConnectLinks } from '../core/connect/connect-links.ts';
import { createGrantChecks } from '../core/proxy/grant-checks.ts';
import { cachingVerifier } from '../core/proxy/inbound-auth.ts';
import type { McpProxyDeps, ProxyLimits } from '../core/proxy/mcp-endpoint.ts';
import { createSealer } from '../core/proxy/sealed-values.ts';
import { createUpstreamClient, type UpstreamClient } from '../core/proxy/upstream-client.ts';
import { createUpstreamTokens } from '../core/proxy/upstream-tokens.ts';
import type { Route, RouteTable } from '../core/routes.ts';
import type { Clock } from '../core/store/clock.ts';
import { createGrantStore } from '../core/store/grants.ts';
import type { RecordMac } from '../core/store/record-mac.ts';
import type { Table } from '../core/store/table.ts';
import type { Vault } from '../core/vault/vault.ts';

export interface ProxyParts {
  readonly table: Table;
  readonly tableName: string;
  readonly routes: RouteTable;
  readonly vault: Pick<Vault, 'get'>;
  /** The token-signing public key (fetched once). */
  readonly publicKey: () => Promise<KeyObject>;
  /** The 256-bit key for the values the proxy seals for clients. */
  readonly sealingKey: Uint8Array;
  /** Authenticates the grant records the proxy reads (record-mac.ts). */
  readonly records: RecordMac;
  readonly ca?: string;
  readonly clock?: Clock;
  readonly limits?: Partial<ProxyLimits>;
}

/**
 * The MCP proxy's dependencies, and only those (its Lambda bundle stays small): the offline token
 * verifier, the once-a-minute grant check, upstream tokens kept warm per instance, one keep-alive
 * HTTP client per route (its own SSRF setting), and the sealer.
 */
export function createProxyServices(parts: ProxyParts): { proxy: McpProxyDeps; close(): void } {
  const now = () => (parts.clock ?? { now: () => Date.now() }).now();
  const clients = new Map<string, UpstreamClient>();
  const upstreamFor = (route: Route): UpstreamClient => {
    let client = clients.get(route.origin);
    if (!client) {
      client = createUpstreamClient({
        allowPrivateNetwork: route.config.allowPrivateNetwork === true,
        ca: parts.ca,
      });
      clients.set(route.origin, client);
    }
    return client;
  };
  const grants = createGrantStore({
    table: parts.table,
    tableName: parts.tableName,
    clock: parts.clock,
    records: parts.records,
  });
  return {
    proxy: {
      routes: parts.routes,
      verify: cachingVerifier(createAccessTokenVerifier({ publicKey: parts.publicKey, now }), { now }),
      grantAlive: createGrantChecks({ grants, now }),
      upstreamTokens: createUpstreamTokens({ vault: parts.vault, now }),
      upstreamFor,
      sealer: createSealer(parts.sealingKey),
      links: createConnectLinks(parts.records.subkey(CONNECT_LINKS_KEY)),
      now,
      ...(parts.limits ? { limits: parts.limits } : {}),
    },
    close() {
      for (const client of clients.values()) client.close();
    },
  };
}
