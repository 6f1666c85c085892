import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createSignIn, type IdentityProviderSettings } from '../core/auth/signin.ts';
import type { RouteConfig } from '../core/config/schema.ts';
import type { ConnectDeps } from '../core/connect/connect.ts';
import { createOutboundFetch } from '../core/http/outbound-fetch.ts';
import type { OutboundFetch } from '../core/oauth/types.ts';
import { type Route, RouteTable } from '../core/routes.ts';
import type { Clock } from '../core/store/clock.ts';
import { createDiscoveryCache } from '../core/store/discovery-cache.ts';
import { createRegistrationStore } from '../core/store/registrations.ts';
import { createSessionStore } from '../core/store/sessions.ts';
import { createStateStore } from '../core/store/state.ts';
import type { Cipher } from '../core/vault/cipher.ts';
import type { ClientSecretResolver } from '../core/vault/client-auth.ts';
import { createVault } from '../core/vault/vault.ts';
import type { CallbackAppDeps } from '../core/web/callback-app.ts';
import type { ConnectAppDeps } from '../core/web/connect-app.ts';
import type { LoginAppDeps } from '../core/web/login-app.ts';

/** The low-level parts that differ between Lambda and the local gateway. */
export interface ServiceParts {
  readonly routes: readonly RouteConfig[];
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
  readonly cipher: Cipher;
  /** Absent when no identity provider is configured: sign-in then answers with a clear page. */
  readonly idp?: IdentityProviderSettings;
  /** Looks up a configured secret reference (environment variable or Secrets Manager ARN). */
  readonly configuredSecret: (ref: { env?: string; secretArn?: string }) => Promise<string>;
  /** Extra CA certificates to trust (the local development CA). */
  readonly ca?: string;
  /**
   * The local gateway: the identity provider may be on loopback. Never set in Lambda, where the
   * identity provider is Cognito or another public issuer.
   */
  readonly localDevelopment?: boolean;
  readonly clock?: Clock;
}

/** Everything the login, connect and callback apps use, built once per container. */
export function createServices(parts: ServiceParts) {
  const ddb = DynamoDBDocumentClient.from(parts.dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const store = { ddb, tableName: parts.tableName, clock: parts.clock };
  const routes = new RouteTable(parts.routes);
  const sessions = createSessionStore(store);
  const states = createStateStore(store);
  const registrations = createRegistrationStore({ ...store, cipher: parts.cipher });
  const discoveryCache = createDiscoveryCache(store);

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
  // make a function read an arbitrary secret or environment variable.
  const secrets: ClientSecretResolver = async (_auth, client) => {
    const route = routes.routes.find((r) => r.origin === client.route);
    const configured = route?.config.upstream;
    if (configured?.clientSecret && configured.clientId === client.clientId) {
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
      const route = routes.routes.find((r) => r.origin === origin);
      return (route ? fetchFor(route) : strict) as typeof fetch;
    },
  });

  const connect: ConnectDeps = {
    states,
    vault,
    registrations,
    discoveryCache,
    fetchFor,
    secrets,
    now: parts.clock ? () => parts.clock!.now() : undefined,
  };

  const idpFetch = createOutboundFetch({
    allowPrivateNetwork: parts.localDevelopment === true,
    ca: parts.ca,
    allowHttp: parts.localDevelopment === true && parts.idp?.allowInsecure === true,
  });
  const signIn = parts.idp
    ? createSignIn({
        idp: parts.idp,
        sessions,
        fetch: idpFetch,
        now: parts.clock ? () => parts.clock!.now() : undefined,
      })
    : undefined;

  const login: LoginAppDeps | undefined = signIn ? { routes, sessions, signIn } : undefined;
  const connectApp: ConnectAppDeps = { ...connect, routes, sessions, connections: vault };
  const callback: CallbackAppDeps = { ...connect, routes, sessions };
  return { routes, sessions, states, vault, registrations, login, connect: connectApp, callback };
}

export type Services = ReturnType<typeof createServices>;
