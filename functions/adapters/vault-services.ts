import { createOutboundFetch } from '../core/http/outbound-fetch.ts';
import type { OutboundFetch } from '../core/oauth/types.ts';
import type { Route, RouteTable } from '../core/routes.ts';
import type { Clock } from '../core/store/clock.ts';
import type { RecordMac } from '../core/store/record-mac.ts';
import { createRegistrationStore } from '../core/store/registrations.ts';
import type { Table } from '../core/store/table.ts';
import type { Cipher } from '../core/vault/cipher.ts';
import type { ClientSecretResolver } from '../core/vault/client-auth.ts';
import { createVault } from '../core/vault/vault.ts';

/** Issuer identifiers compared as URLs (`https://as.example` and `https://as.example/` are one). */
function sameIssuer(a: string, b: string): boolean {
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

/** What the vault needs around it: the table, its cipher, outbound fetches and client secrets. */
export interface VaultParts {
  readonly table: Table;
  readonly tableName: string;
  readonly clock?: Clock;
  /** Authenticates the registration records (record-mac.ts). */
  readonly records: RecordMac;
  readonly routes: RouteTable;
  readonly cipher: Cipher;
  /** Looks up a configured secret reference (environment variable or Secrets Manager ARN). */
  readonly configuredSecret: (ref: { env?: string; secretArn?: string }) => Promise<string>;
  /** Extra CA certificates to trust (the local development CA). */
  readonly ca?: string;
}

/**
 * The token vault with its refresh machinery, shared by the functions that connect routes
 * (connect, callback) and the proxy, which refreshes upstream tokens.
 */
export function createVaultServices(parts: VaultParts) {
  const store = { table: parts.table, tableName: parts.tableName, clock: parts.clock };
  const registrations = createRegistrationStore({ ...store, records: parts.records, cipher: parts.cipher });

  // One guarded fetch per route: private addresses only where the route opted in.
  const fetches = new Map<string, OutboundFetch>();
  const fetchFor = (route: Route): OutboundFetch => {
    let f = fetches.get(route.origin);
    if (!f) {
      f = createOutboundFetch({
        allowPrivateNetwork: route.config.allowPrivateNetwork === true,
        allowHttp: route.config.allowInsecureUpstream === true,
        ca: parts.ca,
      });
      fetches.set(route.origin, f);
    }
    return f;
  };

  // A client secret comes only from the route's own config entry or from the route's dynamic
  // registration — never from a reference read back out of the table, so a tampered item cannot
  // make a function read an arbitrary secret or environment variable. A configured secret is bound
  // to the configured issuer (the config requires one with a secret): whatever an upstream's
  // metadata names, the secret goes only to the token endpoint of that issuer's own metadata.
  const secrets: ClientSecretResolver = async (_auth, client) => {
    const route = parts.routes.routes.find((r) => r.origin === client.route);
    const configured = route?.config.upstream;
    if (configured?.clientSecret && configured.clientId === client.clientId) {
      if (!configured.authorizationServer || !sameIssuer(configured.authorizationServer, client.issuer)) {
        throw new Error('the configured client secret belongs to another authorization server');
      }
      return parts.configuredSecret(configured.clientSecret);
    }
    const registration = await registrations.get(client.route, client.issuer);
    if (registration?.clientId === client.clientId && registration.clientSecret)
      return registration.clientSecret;
    throw new Error('no client secret is available for this client');
  };

  // Refresh grants go out through the item's own route guard; an unknown route gets the strictest one.
  const strict = createOutboundFetch({ ca: parts.ca });
  const vault = createVault({
    ...store,
    cipher: parts.cipher,
    clientSecret: secrets,
    fetchFor: (origin) => {
      const route = parts.routes.routes.find((r) => r.origin === origin);
      return (route ? fetchFor(route) : strict) as typeof fetch;
    },
  });
  return { registrations, fetchFor, secrets, vault };
}
