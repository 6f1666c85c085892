import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createSignIn, type IdentityProviderSettings } from '../core/auth/signin.ts';
import { createAccessTokenVerifier } from '../core/authorization/access-token.ts';
import { createClientDocuments } from '../core/authorization/client-documents.ts';
import { createClientResolver } from '../core/authorization/clients.ts';
import type { TokenSigner } from '../core/authorization/signer.ts';
import type { GatewayConfig, RouteConfig } from '../core/config/schema.ts';
import type { ConnectDeps } from '../core/connect/connect.ts';
import { createOutboundFetch } from '../core/http/outbound-fetch.ts';
import type { OutboundFetch } from '../core/oauth/types.ts';
import { createGrantChecks } from '../core/proxy/grant-checks.ts';
import type { McpProxyDeps, ProxyLimits } from '../core/proxy/mcp-endpoint.ts';
import { createSealer } from '../core/proxy/sealed-values.ts';
import { createUpstreamClient, type UpstreamClient } from '../core/proxy/upstream-client.ts';
import { createUpstreamTokens } from '../core/proxy/upstream-tokens.ts';
import { type Route, RouteTable } from '../core/routes.ts';
import { createCodeStore } from '../core/store/authorization-codes.ts';
import type { Clock } from '../core/store/clock.ts';
import { createDiscoveryCache } from '../core/store/discovery-cache.ts';
import { createGrantStore } from '../core/store/grants.ts';
import { createMcpClientStore } from '../core/store/mcp-clients.ts';
import { createRegistrationStore } from '../core/store/registrations.ts';
import { createSessionStore } from '../core/store/sessions.ts';
import { createStateStore } from '../core/store/state.ts';
import type { Cipher } from '../core/vault/cipher.ts';
import type { ClientSecretResolver } from '../core/vault/client-auth.ts';
import { createVault } from '../core/vault/vault.ts';
import type { AuthorizationAppDeps } from '../core/web/authorization-app.ts';
import type { CallbackAppDeps } from '../core/web/callback-app.ts';
import type { ConnectAppDeps } from '../core/web/connect-app.ts';
import type { LoginAppDeps } from '../core/web/login-app.ts';

/** The config's settings for the gateway's own authorization server. */
export type AuthorizationSettings = Pick<GatewayConfig, 'trustPolicy' | 'mcpClients' | 'tokens'>;

/** The low-level parts that differ between Lambda and the local gateway. */
export interface ServiceParts {
  readonly routes: readonly RouteConfig[];
  /** Trust policy, pre-registered MCP clients, token lifetimes. Default: none, defaults. */
  readonly authorization?: AuthorizationSettings;
  /**
   * Signs the gateway's access tokens (KMS in AWS, a local key in the local gateway). Only the
   * authorization function has one; without it `authorization` is absent.
   */
  readonly signer?: TokenSigner;
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
  readonly cipher: Cipher;
  /** Absent when no identity provider is configured: sign-in then answers with a clear page. */
  readonly idp?: IdentityProviderSettings;
  /** Looks up a configured secret reference (environment variable or Secrets Manager ARN). */
  readonly configuredSecret: (ref: { env?: string; secretArn?: string }) => Promise<string>;
  /**
   * The proxy's 256-bit key for the values it seals for clients (`Mcp-Session-Id`, request
   * state). Only the proxy has one; without it `proxy` is absent.
   */
  readonly sealingKey?: Uint8Array;
  /** Overrides of the proxy's limits (tests). */
  readonly proxyLimits?: Partial<ProxyLimits>;
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

  const settings = parts.authorization ?? {};
  const now = () => (parts.clock ?? { now: () => Date.now() }).now();
  const grants = createGrantStore({ ...store, refreshTokenTtlDays: settings.tokens?.refreshTokenTtlDays });
  const codes = createCodeStore(store);
  const mcpClients = createMcpClientStore(store);
  const signer = parts.signer;
  const resolveClient = createClientResolver({
    trustPolicy: settings.trustPolicy,
    mcpClients: settings.mcpClients,
    registered: mcpClients,
    // MCP clients' documents live at addresses nobody configured: always the SSRF-safe fetcher,
    // loopback only for a local trust policy that opted in (`cdk synth` refuses it).
    documents: createClientDocuments({
      fetchOptions: { allowPrivateNetwork: settings.trustPolicy?.allowPrivateNetwork === true, ca: parts.ca },
      now,
    }),
  });
  const verify = signer && createAccessTokenVerifier({ publicKey: () => signer.publicKey(), now });
  const authorization: AuthorizationAppDeps | undefined = signer &&
    verify && {
      routes,
      sessions,
      resolveClient,
      codes,
      grants,
      clients: mcpClients,
      signer,
      verify,
      connections: vault,
      dynamicRegistration: settings.trustPolicy?.allowDynamicRegistration !== false,
      accessTokenTtlSeconds: settings.tokens?.accessTokenTtlSeconds ?? 600,
      now,
    };

  // The MCP proxy: one keep-alive HTTP client per route (its own SSRF setting), tokens kept warm.
  const upstreamClients = new Map<string, UpstreamClient>();
  const upstreamFor = (route: Route): UpstreamClient => {
    let client = upstreamClients.get(route.origin);
    if (!client) {
      client = createUpstreamClient({
        allowPrivateNetwork: route.config.allowPrivateNetwork === true,
        ca: parts.ca,
      });
      upstreamClients.set(route.origin, client);
    }
    return client;
  };
  const proxy: McpProxyDeps | undefined =
    verify && parts.sealingKey
      ? {
          routes,
          verify,
          grantAlive: createGrantChecks({ grants, now }),
          upstreamTokens: createUpstreamTokens({ vault, now }),
          upstreamFor,
          sealer: createSealer(parts.sealingKey),
          now,
          ...(parts.proxyLimits ? { limits: parts.proxyLimits } : {}),
        }
      : undefined;

  const login: LoginAppDeps | undefined = signIn ? { routes, sessions, signIn } : undefined;
  const connectApp: ConnectAppDeps = { ...connect, routes, sessions, connections: vault, grants };
  const callback: CallbackAppDeps = { ...connect, routes, sessions };
  return {
    routes,
    sessions,
    states,
    vault,
    registrations,
    grants,
    codes,
    verify,
    login,
    connect: connectApp,
    callback,
    authorization,
    proxy,
    /** Closes the proxy's keep-alive connections (the local gateway's stop). */
    closeUpstreams: () => {
      for (const client of upstreamClients.values()) client.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;
