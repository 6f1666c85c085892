import { createServer, type Server } from 'node:http';
import Provider, { type Configuration } from 'oidc-provider';
import { Agent, fetch as undiciFetch } from 'undici';
import { freePort } from '../../functions/local/ports.ts';

export interface TestAuthorizationServer {
  readonly issuer: string;
  readonly provider: Provider;
  /** Every URL the provider fetched (CIMD documents). */
  readonly fetched: string[];
  stop(): Promise<void>;
}

/**
 * A real authorization server (`oidc-provider` with its Client ID Metadata Document feature)
 * on 127.0.0.1. Its own SSRF guard refuses loopback, so it gets a fetch that trusts the given
 * development CA and may reach the local gateway; nothing else about its CIMD handling changes.
 */
export async function startAuthorizationServer(options: {
  ca: string;
  configuration?: Configuration;
}): Promise<TestAuthorizationServer> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const agent = new Agent({ connect: { ca: options.ca } });
  const fetched: string[] = [];
  const provider = new Provider(issuer, {
    ...options.configuration,
    features: {
      devInteractions: { enabled: true },
      clientIdMetadataDocument: { enabled: true, ack: 'draft-02' } as never,
      ...options.configuration?.features,
    },
    fetch: (async (url: URL | string, init: Record<string, unknown>) => {
      fetched.push(String(url));
      const { dispatcher: _ignoredLoopbackGuard, ...rest } = init;
      return undiciFetch(url, { ...rest, dispatcher: agent } as never);
    }) as never,
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    provider,
    fetched,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await agent.close();
    },
  };
}
