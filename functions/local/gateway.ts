import { createServer, type Server } from 'node:https';
import { responseToResult } from '../adapters/apigateway.ts';
import type { GatewayConfig } from '../core/config/schema.ts';
import { findEndpoint } from '../core/endpoints.ts';
import { errorToResponse, HttpError } from '../core/http/errors.ts';
import { describeRoute, type Route } from '../core/routes.ts';
import { type DynamoLocal, startDynamoLocal } from './dynamo.ts';
import { buildLocalHandlers } from './handlers.ts';
import { BodyTooLargeError, localContext, nodeRequestToEvent, writeResult } from './node-adapter.ts';

export interface LocalGatewayOptions {
  readonly config: GatewayConfig;
  /** PEM certificate and key every listener serves. */
  readonly tls: { readonly cert: string; readonly key: string };
  /** Start DynamoDB Local and create the table (default true). */
  readonly dynamo?: boolean;
}

export interface LocalGateway {
  readonly routes: readonly Route[];
  readonly dynamo: DynamoLocal | undefined;
  stop(): Promise<void>;
}

async function errorResult(error: unknown) {
  return responseToResult(errorToResponse(error));
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
  const dynamo = options.dynamo === false ? undefined : await startDynamoLocal();
  const handlers = buildLocalHandlers(options.config);
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
    await dynamo?.stop();
  };

  try {
    for (const route of routes) {
      const server = createServer({ cert: options.tls.cert, key: options.tls.key }, async (req, res) => {
        try {
          const path = new URL(req.url ?? '/', 'https://local.invalid').pathname;
          const endpoint = findEndpoint(path);
          if (!endpoint) {
            writeResult(
              res,
              await errorResult(new HttpError(404, 'not_found', 'Nothing is served at this path.')),
            );
            return;
          }
          const event = await nodeRequestToEvent(req);
          writeResult(res, await handlers[endpoint.function](event, localContext(endpoint.function)));
        } catch (error) {
          const answer =
            error instanceof BodyTooLargeError
              ? new HttpError(413, 'request_too_large', 'The request body is too large.')
              : error;
          if (!res.headersSent) writeResult(res, await errorResult(answer));
          else res.destroy();
        }
      });
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
  return { routes, dynamo, stop };
}
