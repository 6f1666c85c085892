import { createServer, type Server, type Socket } from 'node:net';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWS_CLIENT_SETTINGS } from '../../../functions/adapters/aws-clients.ts';

/**
 * Regression (issue 9, deadlines): the functions' AWS SDK clients had no request timeout, so a
 * dependency that accepts a connection and never answers held a function until its own timeout.
 */
describe('the functions’ AWS SDK client settings', () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();
  let connections = 0;

  beforeAll(async () => {
    // Accepts connections and never answers: a stalled DynamoDB endpoint.
    server = createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('gives up on a silent endpoint after one retry, each attempt bounded by the request timeout', async () => {
    const client = new DynamoDBClient({
      ...AWS_CLIENT_SETTINGS,
      endpoint: `http://127.0.0.1:${port}`,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const started = Date.now();
    await expect(
      client.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'x' }, sk: { S: 'y' } } })),
    ).rejects.toThrow();
    const elapsed = Date.now() - started;
    expect(connections).toBe(AWS_CLIENT_SETTINGS.maxAttempts);
    // Two attempts of at most 3 s each, plus the SDK's short back-off between them.
    expect(elapsed).toBeLessThan(9_000);
    expect(elapsed).toBeGreaterThanOrEqual(AWS_CLIENT_SETTINGS.requestHandler.requestTimeout);
    client.destroy();
  });
});
