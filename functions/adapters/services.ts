import { createSignIn, type IdentityProviderSettings } from '../core/auth/signin.ts';
import { createAccessTokenVerifier } from '../core/authorization/access-token.ts';
import { createClientDocuments } from '../core/authorization/client-documents.ts';
import { createClientResolver } from '../core/authorization/clients.ts';
import type { TokenSigner } from '../core/authorization/signer.ts';
import type { GatewayConfig, RouteConfig } from '../core/config/schema.ts';
import type { ConnectDeps } from '../core/connect/connect.ts';
import { CONNECT_LINKS_KEY, createConnectLinks } from '../core/connect/connect-links.ts';
import { createOutboundFetch } from '../core/http/outbound-fetch.ts';
import type { ProxyLimits } from '../core/proxy/mcp-endpoint.ts';
import { RouteTable } from '../core/routes.ts';
import { createCodeStore } from '../core/store/authorization-codes.ts';
import type { Clock } from '../core/store/clock.ts';
import { createDiscoveryCache } from '../core/store/discovery-cache.ts';
import { createGrantStore } from '../core/store/grants.ts';
import { createMcpClientStore } from '../core/store/mcp-clients.ts';
import { createRecordMac } from '../core/store/record-mac.ts';
import { createSessionStore } from '../core/store/sessions.ts';
import { createStateStore } from '../core/store/state.ts';
import type { Table } from '../core/store/table.ts';
import type { Cipher } from '../core/vault/cipher.ts';
import type { AuthorizationAppDeps } from '../core/web/authorization-app.ts';
import type { CallbackAppDeps } from '../core/web/callback-app.ts';
import type { ConnectAppDeps } from '../core/web/connect-app.ts';
import type { LoginAppDeps } from '../core/web/login-app.ts';
import { createProxyServices } from './proxy-services.ts';
import { createVaultServices } from './vault-services.ts';

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
  /** The table client of login, connect, callback and authorization (the AWS SDK's DocumentClient). */
  readonly table: Table;
  /**
   * The proxy's table client: in Lambda the proxy's signed-fetch client (its bundle carries no AWS
   * SDK); the local gateway gives it the same kind. Default: `table`.
   */
  readonly proxyTable?: Table;
  readonly tableName: string;
  readonly cipher: Cipher;
  /** Absent when no identity provider is configured: sign-in then answers with a clear page. */
  readonly idp?: IdentityProviderSettings;
  /** Looks up a configured secret reference (environment variable or Secrets Manager ARN). */
  readonly configuredSecret: (ref: { env?: string; secretArn?: string }) => Promise<string>;
  /**
   * The 256-bit key the table records are authenticated with (functions/core/store/record-mac.ts;
   * `recordKeyFrom` the sealing secret). Every function built on these services has it.
   */
  readonly recordKey: Uint8Array;
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
  const store = {
    table: parts.table,
    tableName: parts.tableName,
    clock: parts.clock,
    records: createRecordMac(parts.recordKey),
  };
  const routes = new RouteTable(parts.routes);
  // The gateway's own connect links (the proxy's function derives the same key).
  const links = createConnectLinks(store.records.subkey(CONNECT_LINKS_KEY));
  const sessions = createSessionStore(store);
  const states = createStateStore(store);
  const { registrations, fetchFor, secrets, vault } = createVaultServices({
    ...store,
    routes,
    cipher: parts.cipher,
    configuredSecret: parts.configuredSecret,
    ca: parts.ca,
  });
  const discoveryCache = createDiscoveryCache(store);

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
        // Sign-in transactions travel sealed in a cookie (no table write before sign-in, issue 9 item 3).
        transactionKey: store.records.subkey('sign-in-transaction/v1'),
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
      links,
      dynamicRegistration: settings.trustPolicy?.allowDynamicRegistration !== false,
      accessTokenTtlSeconds: settings.tokens?.accessTokenTtlSeconds ?? 600,
      now,
    };

  const proxyServices =
    signer && parts.sealingKey
      ? createProxyServices({
          ...store,
          table: parts.proxyTable ?? parts.table,
          routes,
          vault: parts.proxyTable
            ? createVaultServices({
                ...store,
                table: parts.proxyTable,
                routes,
                cipher: parts.cipher,
                configuredSecret: parts.configuredSecret,
                ca: parts.ca,
              }).vault
            : vault,
          publicKey: () => signer.publicKey(),
          sealingKey: parts.sealingKey,
          ca: parts.ca,
          ...(parts.proxyLimits ? { limits: parts.proxyLimits } : {}),
        })
      : undefined;

  const login: LoginAppDeps | undefined = signIn ? { routes, sessions, signIn } : undefined;
  const connectApp: ConnectAppDeps = { ...connect, routes, sessions, connections: vault, grants, links };
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
    proxy: proxyServices?.proxy,
    /** Closes the proxy's keep-alive connections (the local gateway's stop). */
    closeUpstreams: () => proxyServices?.close(),
  };
}

export type Services = ReturnType<typeof createServices>;
