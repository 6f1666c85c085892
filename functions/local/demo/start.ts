import { LOGIN_CALLBACK_PATH } from '../../core/auth/signin.ts';
import type { DemoTls } from './https-listener.ts';
import { type DemoIdentityProvider, startDemoIdentityProvider } from './identity-provider.ts';
import { type DemoUpstream, type DemoUpstreamOptions, startDemoUpstream } from './upstream.ts';

/**
 * Where `npm start` runs the demo's external parties, beside the routes on 8443 and 8444:
 * the upstream MCP server is `https://localhost:9400/mcp` (a route's `to`), its authorization
 * server `https://localhost:9401`, and the identity provider `https://localhost:9443`.
 */
export const DEMO_PORTS = {
  upstream: 9400,
  upstreamAuthorizationServer: 9401,
  identityProvider: 9443,
} as const;

export interface LocalDemoOptions {
  /** The gateway's route origins (`https://localhost:PORT`); each gets a login callback at the IdP. */
  readonly routeOrigins: readonly string[];
  /** The development certificate every party serves. */
  readonly tls: DemoTls;
  /** The development CA (PEM), trusted when the upstream fetches the routes' CIMDs. */
  readonly ca: string;
  /** Ports on 127.0.0.1 (0 = any free one); default {@link DEMO_PORTS}. */
  readonly ports?: Partial<Record<keyof typeof DEMO_PORTS, number>>;
  /** Upstream access-token lifetime in seconds; default 600. */
  readonly accessTokenTtl?: number;
  /** Another MCP server for the upstream (tests); see {@link DemoUpstreamOptions.mcp}. */
  readonly upstreamMcp?: DemoUpstreamOptions['mcp'];
}

export interface LocalDemo {
  readonly identityProvider: DemoIdentityProvider;
  readonly upstream: DemoUpstream;
  stop(): Promise<void>;
}

/**
 * Starts the identity provider and the upstream (MCP server + authorization server) together;
 * if one cannot start, the other is stopped before the error is rethrown.
 */
export async function startLocalDemo(options: LocalDemoOptions): Promise<LocalDemo> {
  const ports = { ...DEMO_PORTS, ...options.ports };
  const [idp, upstream] = await Promise.allSettled([
    startDemoIdentityProvider({
      port: ports.identityProvider,
      tls: options.tls,
      redirectUris: options.routeOrigins.map((origin) => `${new URL(origin).origin}${LOGIN_CALLBACK_PATH}`),
    }),
    startDemoUpstream({
      port: ports.upstream,
      asPort: ports.upstreamAuthorizationServer,
      tls: options.tls,
      ca: options.ca,
      accessTokenTtl: options.accessTokenTtl,
      ...(options.upstreamMcp ? { mcp: options.upstreamMcp } : {}),
    }),
  ]);
  if (idp.status === 'rejected' || upstream.status === 'rejected') {
    await Promise.all([
      idp.status === 'fulfilled' ? idp.value.stop() : undefined,
      upstream.status === 'fulfilled' ? upstream.value.stop() : undefined,
    ]);
    throw idp.status === 'rejected' ? idp.reason : (upstream as PromiseRejectedResult).reason;
  }
  return {
    identityProvider: idp.value,
    upstream: upstream.value,
    stop: async () => {
      await Promise.all([idp.value.stop(), upstream.value.stop()]);
    },
  };
}
