import { createServer, type Server } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConnect } from '../../../functions/core/connect/connect.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { freePort } from '../../../functions/local/ports.ts';
import { startTestGateway, type TestGateway } from '../../support/local-gateway.ts';

/**
 * An upstream that accepts connections and never answers must not hold a connect until the
 * function times out (API Gateway would show a bare 504): all outbound calls share one budget.
 */
describe('connect against an upstream that never answers', () => {
  let gw: TestGateway;
  let silent: Server;

  beforeAll(async () => {
    const port = await freePort();
    gw = await startTestGateway(1, ([from]) => [
      { from: from!, to: `https://localhost:${port}/mcp`, allowPrivateNetwork: true },
    ]);
    silent = createServer({ cert: gw.cert.cert, key: gw.cert.key }, () => {
      // accept, then say nothing
    });
    await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((r) => {
      silent?.close(r);
      silent?.closeAllConnections();
    });
    await gw?.stop();
  });

  it('gives up when the shared budget runs out and reports the upstream unreachable', async () => {
    const started = Date.now();
    const result = await startConnect(
      { ...gw.gateway.services.connect, connectBudgetMs: 500 },
      {
        route: gw.gateway.routes[0]!,
        userId: 'u',
        binding: randomToken(),
        returnTo: '/.pomerium/connections',
      },
    );
    expect(result).toMatchObject({ ok: false, code: 'upstream_unreachable' });
    // Three calls would each wait their own 10 s without the budget.
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
