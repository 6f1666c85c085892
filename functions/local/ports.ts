import { createServer } from 'node:net';

/** Below Linux's ephemeral range (32768–60999), where `listen(0)` never lands. */
const FIRST = 20_000;
const LAST = 32_000;

function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a listener whose address must be known
 * before it starts (a route origin). Chosen at random below the ephemeral range: a port the system
 * hands out for `listen(0)` meanwhile (DynamoDB Local, another test's server) cannot take it, which
 * made parallel test files collide now and then.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(FIRST + Math.floor(Math.random() * (LAST - FIRST)));
    if (port) return port;
  }
  const port = await tryListen(0);
  if (!port) throw new Error('no free port on 127.0.0.1');
  return port;
}
