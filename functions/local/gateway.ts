import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { Duplex } from 'node:stream';
import { responseToResult } from '../adapters/apigateway.ts';
import { documentClientTable } from '../adapters/document-client-table.ts';
import { createFetchTable } from '../adapters/fetch-table.ts';
import { createServices, type Services } from '../adapters/services.ts';
import type { IdentityProviderSettings } from '../core/auth/signin.ts';
import { createLocalSigner } from '../core/authorization/signer.ts';
import type { GatewayConfig } from '../core/config/schema.ts';
import { findEndpoint } from '../core/endpoints.ts';
import { errorToResponse, HttpError } from '../core/http/errors.ts';
import type { ProxyLimits } from '../core/proxy/mcp-endpoint.ts';
import { describeRoute, type Route } from '../core/routes.ts';
import type { Clock } from '../core/store/clock.ts';
import { recordKeyFrom } from '../core/store/record-mac.ts';
import type { Table } from '../core/store/table.ts';
import { createLocalCipher } from '../core/vault/cipher.ts';
import { type DynamoLocal, localAwsEnv, startDynamoLocal } from './dynamo.ts';
import { buildLocalHandlers } from './handlers.ts';
import {
  BodyTooLargeError,
  HEAD_TOO_LARGE_RAW,
  HEAD_TOO_LARGE_RESULT,
  localContext,
  MAX_REQUEST_HEAD_BYTES,
  nodeRequestToEvent,
  requestHeadBytes,
  writeResult,
} from './node-adapter.ts';

export interface LocalGatewayOptions {
  readonly config: GatewayConfig;
  /** PEM certificate and key every listener serves. */
  readonly tls: { readonly cert: string; readonly key: string };
  /** Extra CA the gateway trusts for its own outbound requests (the development CA). */
  readonly ca?: string;
  /** The identity provider people sign in with; default: the config's `idp` (OIDC issuer form). */
  readonly idp?: IdentityProviderSettings;
  /** The 256-bit key that encrypts vault items locally; default: a new random key per run. */
  readonly vaultKey?: Uint8Array;
  /** The P-256 private key (PEM) that signs access tokens; default: a new key per run. */
  readonly signingKey?: string;
  /** The proxy's 256-bit key for sealed session ids; default: a new random key per run. */
  readonly sealingKey?: Uint8Array;
  /** Overrides of the proxy's limits (tests: short keep-alives and timeouts). */
  readonly proxyLimits?: Partial<ProxyLimits>;
  readonly clock?: Clock;
}

export interface LocalGateway {
  readonly routes: readonly Route[];
  readonly dynamo: DynamoLocal;
  /**
   * The proxy's table client: signed fetch to DynamoDB Local, as the proxy function uses in AWS
   * (the other functions share `dynamo.client`, the AWS SDK's).
   */
  readonly proxyTable: Table;
  readonly services: Services;
  stop(): Promise<void>;
}

/** The config's identity provider in the form the local gateway can use (an OIDC issuer). */
function configuredIdp(config: GatewayConfig): IdentityProviderSettings | undefined {
  const idp = config.idp;
  if (!idp || !('issuer' in idp)) return undefined;
  const secret = idp.clientSecret?.env ? process.env[idp.clientSecret.env] : undefined;
  return { issuer: idp.issuer, clientId: idp.clientId, clientSecret: secret };
}

/** A P-256 key for a run that was given none (tokens then die with the gateway). */
function newSigningKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

async function errorResult(error: unknown) {
  return responseToResult(errorToResponse(error));
}

/**
 * What Node's parser could not take: a head past its own 16 KiB limit gets the same 431 as one
 * past {@link MAX_REQUEST_HEAD_BYTES}; anything else Node's default answer (400, or nothing when
 * the client has gone).
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  socket.end(
    error.code === 'HPE_HEADER_OVERFLOW'
      ? HEAD_TOO_LARGE_RAW
      : 'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
  );
}

/**
 * The local gateway: one HTTPS listener on 127.0.0.1 per route origin (`https://localhost:PORT`),
 * routed by the same endpoint table API Gateway is built from, running the same handlers.
 */
export async function startLocalGateway(options: LocalGatewayOptions): Promise<LocalGateway> {
  const routes = options.config.routes.map(describeRoute);
  for (const route of routes) {
    if (!['localhost', '127.0.0.1', '[::1]'].includes(route.hostname) || !new URL(route.origin).port) {
      throw new Error(`${route.origin}: the local gateway serves https://localhost:PORT origins only`);
    }
  }
  const dynamo = await startDynamoLocal();
  const sealingKey = options.sealingKey ?? randomBytes(32);
  const proxyTable = createFetchTable({ env: localAwsEnv(dynamo.endpoint) });
  const services = createServices({
    routes: options.config.routes,
    table: documentClientTable(dynamo.client),
    proxyTable,
    tableName: dynamo.tableName,
    cipher: createLocalCipher(options.vaultKey ?? randomBytes(32)),
    signer: createLocalSigner(options.signingKey ?? newSigningKey()),
    sealingKey,
    recordKey: recordKeyFrom(sealingKey),
    ...(options.proxyLimits ? { proxyLimits: options.proxyLimits } : {}),
    authorization: {
      trustPolicy: options.config.trustPolicy,
      mcpClients: options.config.mcpClients,
      tokens: options.config.tokens,
    },
    idp: options.idp ?? configuredIdp(options.config),
    configuredSecret: async (ref) => {
      const value = ref.env ? process.env[ref.env] : undefined;
      if (!value) throw new Error('the configured client secret is not set in the environment');
      return value;
    },
    ca: options.ca,
    localDevelopment: true,
    clock: options.clock,
  });
  const handlers = buildLocalHandlers(options.config, services);
  const servers: Server[] = [];

  const stop = async () => {
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
    services.closeUpstreams();
    await dynamo.stop();
  };

  try {
    for (const route of routes) {
      const server = createServer({ cert: options.tls.cert, key: options.tls.key }, async (req, res) => {
        // API Gateway refuses an oversized head before any routing; so does the local gateway.
        if (requestHeadBytes(req) > MAX_REQUEST_HEAD_BYTES) {
          writeResult(res, HEAD_TOO_LARGE_RESULT);
          return;
        }
        try {
          const path = new URL(req.url ?? '/', 'https://local.invalid').pathname;
          const endpoint = findEndpoint(path, route.mcpPath);
          if (!endpoint) {
            writeResult(res, await errorResult(new HttpError('not_found')));
            return;
          }
          const event = await nodeRequestToEvent(req);
          const handler = handlers[endpoint.function];
          const context = localContext(endpoint.function);
          if (handler.streaming) await handler.handle(event, res, context);
          else writeResult(res, await handler.handle(event, context));
        } catch (error) {
          const answer = error instanceof BodyTooLargeError ? new HttpError('request_too_large') : error;
          if (!res.headersSent) writeResult(res, await errorResult(answer));
          else res.destroy();
        }
      });
      server.on('clientError', answerClientError);
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(Number(new URL(route.origin).port), '127.0.0.1', () => resolve());
      });
    }
  } catch (error) {
    await stop();
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') throw new Error(`a listener could not start: port in use (${e.message})`);
    throw error;
  }
  return { routes, dynamo, proxyTable, services, stop };
}
