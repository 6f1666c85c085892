import { randomToken } from '../crypto/random.ts';
import { systemClock, ttlSeconds } from './clock.ts';
import { type AuthenticatedStoreDeps, byMac, mcpClientKey, putFreshRecord } from './keys.ts';

/**
 * MCP clients registered at a route with RFC 7591 dynamic registration. Public clients only
 * (`token_endpoint_auth_method: none`), registered per route: a client_id from route A is
 * unknown on route B. A registration lasts 90 days; after that the client gets `invalid_client` and
 * registers again, as MCP clients do. A registration is tagged (record-mac.ts): redirect URIs
 * edited in the table, or a client planted there, are never used.
 */
export interface RegisteredClient {
  readonly clientId: string;
  readonly route: string;
  readonly clientName?: string;
  readonly redirectUris: readonly string[];
  readonly grantTypes: readonly string[];
  readonly clientUri?: string;
  readonly issuedAt: number;
}

export interface McpClientStore {
  register(client: Omit<RegisteredClient, 'clientId' | 'issuedAt'>): Promise<RegisteredClient>;
  get(clientId: string, route: string): Promise<RegisteredClient | undefined>;
}

export const REGISTERED_CLIENT_TTL_DAYS = 90;

/** Registered client ids: a prefix that no CIMD URL or configured id can have, then 128 random bits. */
const CLIENT_ID = /^mcp-edge-dcr-[A-Za-z0-9_-]{22}$/;

export function isRegisteredClientId(value: string): boolean {
  return CLIENT_ID.test(value);
}

function clientFields(c: Record<string, unknown>): unknown[] {
  return [
    c.clientId,
    c.route,
    c.clientName,
    c.redirectUris,
    c.grantTypes,
    c.clientUri,
    c.issuedAt,
    c.expiresAt,
  ];
}

export function createMcpClientStore(deps: AuthenticatedStoreDeps): McpClientStore {
  const { table, tableName } = deps;
  const clock = deps.clock ?? systemClock;
  return {
    async register(input) {
      const clientId = `mcp-edge-dcr-${randomToken(16)}`;
      const issuedAt = clock.now();
      const expiresAt = issuedAt + REGISTERED_CLIENT_TTL_DAYS * 86_400_000;
      const client: RegisteredClient = { ...input, clientId, issuedAt };
      await putFreshRecord(
        { table, tableName },
        {
          ...mcpClientKey(clientId),
          ...client,
          expiresAt,
          mac: deps.records.tag(mcpClientKey(clientId), clientFields({ ...client, expiresAt })),
          ttl: ttlSeconds(expiresAt),
        },
        byMac,
      );
      return client;
    },
    async get(clientId, route) {
      if (!isRegisteredClientId(clientId)) return undefined;
      // Consistent: a client that registers and authorizes at once must be found.
      const { Item } = await table.get({
        TableName: tableName,
        Key: mcpClientKey(clientId),
        ConsistentRead: true,
      });
      if (!Item || Item.route !== route || !((Item.expiresAt as number) > clock.now())) return undefined;
      if (!deps.records.verify(mcpClientKey(clientId), clientFields(Item), Item.mac)) return undefined;
      return {
        clientId: Item.clientId,
        route: Item.route,
        ...(Item.clientName ? { clientName: Item.clientName } : {}),
        redirectUris: Item.redirectUris,
        grantTypes: Item.grantTypes,
        ...(Item.clientUri ? { clientUri: Item.clientUri } : {}),
        issuedAt: Item.issuedAt,
      };
    },
  };
}
