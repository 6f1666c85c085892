import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { userIdFor } from '../../functions/core/auth/signin.ts';
import { parseConfig } from '../../functions/core/config/parse.ts';
import type { GatewayConfigInput } from '../../functions/core/config/schema.ts';
import type { Clock } from '../../functions/core/store/clock.ts';
import { type LocalDemo, type LocalDemoOptions, startLocalDemo } from '../../functions/local/demo/start.ts';
import {
  type LocalGateway,
  type LocalGatewayOptions,
  startLocalGateway,
} from '../../functions/local/gateway.ts';
import { freePort } from '../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../functions/local/tls.ts';
import { type ClientDocumentsHost, startClientDocumentsHost } from './client-documents-host.ts';
import { HttpBrowser } from './http-browser.ts';
import { gatewayKeys } from './local-gateway.ts';
import { recordTokenAnswer } from './secrets.ts';

/**
 * Everything a test of the gateway's authorization server needs, real and on 127.0.0.1: the local
 * gateway with two routes A and B in front of the demo upstream, the demo identity provider people
 * sign in with, and a host serving MCP clients' Client ID Metadata Documents.
 */
export interface AuthorizationFixture {
  readonly cert: DevCertificate;
  readonly demo: LocalDemo;
  readonly gateway: LocalGateway;
  readonly documents: ClientDocumentsHost;
  readonly ddb: DynamoDBDocumentClient;
  readonly A: string;
  readonly B: string;
  /** `${origin}/mcp`: each route's MCP endpoint (its resource). */
  mcp(origin: string): string;
  /** The gateway's user id for a login name typed at the demo identity provider. */
  userId(login: string): string;
  /** A new cookie-keeping browser trusting the development CA (closed by `stop`). */
  browser(): HttpBrowser;
  stop(): Promise<void>;
}

export interface AuthorizationFixtureOptions {
  /** Config keys beside `routes` (trustPolicy, mcpClients, tokens); `documents` is the CIMD host's origin. */
  readonly config?: (hosts: { documents: string }) => Omit<GatewayConfigInput, 'routes'>;
  readonly clock?: Clock;
  /** The upstream MCP server behind both routes (default: the demo's stateless tools). */
  readonly upstreamMcp?: LocalDemoOptions['upstreamMcp'];
  /** Upstream access-token lifetime in seconds (default 600). */
  readonly upstreamTokenTtl?: number;
  /** The proxy's limits (short keep-alives and timeouts for tests). */
  readonly proxyLimits?: LocalGatewayOptions['proxyLimits'];
}

export async function startAuthorizationFixture(
  options: AuthorizationFixtureOptions = {},
): Promise<AuthorizationFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-edge-authz-'));
  const cert = await ensureDevCertificate(dir);
  const A = `https://localhost:${await freePort()}`;
  const B = `https://localhost:${await freePort()}`;
  const browsers: HttpBrowser[] = [];
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    await Promise.all(browsers.map((b) => b.close()));
    await Promise.all(started.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const documents = await startClientDocumentsHost(cert);
    started.push(documents);
    const demo = await startLocalDemo({
      routeOrigins: [A, B],
      tls: cert,
      ca: cert.ca,
      ports: { identityProvider: 0, upstream: 0, upstreamAuthorizationServer: 0 },
      ...(options.upstreamMcp ? { upstreamMcp: options.upstreamMcp } : {}),
      ...(options.upstreamTokenTtl ? { accessTokenTtl: options.upstreamTokenTtl } : {}),
    });
    started.push(demo);
    // The upstream's and the identity provider's tokens, for the run's log check.
    demo.upstream.authorizationServer.on('grant.success', (ctx) =>
      recordTokenAnswer(ctx.body, { upstream: true }),
    );
    demo.identityProvider.provider.on('grant.success', (ctx) =>
      recordTokenAnswer(ctx.body, { upstream: true }),
    );
    const extra = options.config?.({ documents: documents.origin }) ?? {};
    const parsed = parseConfig({
      ...extra,
      trustPolicy: { allowPrivateNetwork: true, ...extra.trustPolicy },
      routes: [
        { from: A, to: demo.upstream.mcpUrl, name: 'Route A', allowPrivateNetwork: true },
        { from: B, to: demo.upstream.mcpUrl, name: 'Route B', allowPrivateNetwork: true },
      ],
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const gateway = await startLocalGateway({
      config: parsed.config,
      tls: cert,
      ca: cert.ca,
      idp: { issuer: demo.identityProvider.issuer, clientId: demo.identityProvider.clientId },
      ...gatewayKeys(),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.proxyLimits ? { proxyLimits: options.proxyLimits } : {}),
    });
    started.push(gateway);
    return {
      cert,
      demo,
      gateway,
      documents,
      ddb: DynamoDBDocumentClient.from(gateway.dynamo.client),
      A,
      B,
      mcp: (origin) => `${origin}${new URL(demo.upstream.mcpUrl).pathname}`,
      userId: (login) => userIdFor(demo.identityProvider.issuer, login),
      browser: () => {
        const b = new HttpBrowser(cert.ca);
        browsers.push(b);
        return b;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
