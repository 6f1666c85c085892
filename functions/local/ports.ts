import { createServer } from 'node:net';

/** Below Linux's ephemeral range (32768–60999), where `listen(0)` never lands. */
const FIRST = 20_000;
const LAST = 32_000;
/** Parallel test workers each draw from their own slice of the range (see `range`). */
const SLICES = 8;

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
 * The ports this process draws from. The test runner runs files in parallel worker processes
 * (`VITEST_POOL_ID` 1, 2, …): each takes its own slice, so two files starting at once never pick
 * the same port in the moment between the pick and their listener starting.
 */
function range(): { first: number; size: number } {
  const pool = Number(process.env.VITEST_POOL_ID);
  if (!Number.isSafeInteger(pool) || pool < 1) return { first: FIRST, size: LAST - FIRST };
  const size = Math.floor((LAST - FIRST) / SLICES);
  return { first: FIRST + ((pool - 1) % SLICES) * size, size };
}

/** Ports handed out by this process: not handed out twice (two routes of one gateway, say). */
const handedOut = new Set<number>();

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a listener whose address must be known
 * before it starts (a route origin). Chosen at random below the ephemeral range: a port the system
 * hands out for `listen(0)` meanwhile (DynamoDB Local, another test's server) cannot take it, which
 * made parallel test files collide now and then.
 */
export async function freePort(): Promise<number> {
  const { first, size } = range();
  for (let i = 0; i < 50; i++) {
    const candidate = first + Math.floor(Math.random() * size);
    if (handedOut.has(candidate)) continue;
    const port = await tryListen(candidate);
    if (port) {
      handedOut.add(port);
      return port;
    }
  }
  const port = await tryListen(0);
  if (!port) throw new Error('no free port on 127.0.0.1');
  return port;
}
