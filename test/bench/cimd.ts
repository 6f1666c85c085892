// The CIMD hot path, each variant against a baseline measured in the same process: the naive
// handler that regenerates, serialises and hashes the document per request.
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { createCimdHandler } from '../../functions/cimd/app.ts';
import { createCimdResponder, prepareCimd } from '../../functions/core/cimd/serve.ts';
import { RouteTable } from '../../functions/core/routes.ts';
import { median } from './stats.ts';

/** Times `iterations` calls; the caller runs rounds and keeps the median, so one noisy round does not decide. */
function measure(name: string, iterations: number, fn: () => unknown | Promise<unknown>) {
  return async () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    return { name, ns: Number(process.hrtime.bigint() - start) / iterations };
  };
}

export async function runCimdBench(): Promise<void> {
  const routes = Array.from({ length: 50 }, (_, i) => ({
    from: `https://mcp${i}.example.com`,
    to: 'https://up.example.net/mcp',
  }));
  const table = new RouteTable(routes);
  const host = 'mcp42.example.com';
  const url = `https://${host}/.well-known/mcp-client-metadata.json`;

  // The same answer built the obvious way: document, bytes, ETag and headers made per request.
  const naive = measure('baseline: regenerate document + ETag + headers per request', 10_000, () => {
    const request = new Request(url);
    const route = table.forHost(new URL(request.url).host)!;
    const { body, ok } = prepareCimd(route);
    return new Response(body, { status: 200, headers: ok as [string, string][] });
  });

  const responder = createCimdResponder(table);
  const etag = responder(new Request(url)).headers.get('etag')!;
  const core = measure('core responder (precomputed document + ETag)', 10_000, () =>
    responder(new Request(url)),
  );
  const conditional = measure('core responder, conditional GET → 304', 10_000, () =>
    responder(new Request(url, { headers: { 'if-none-match': etag } })),
  );

  const handler = createCimdHandler({ routes, originSecret: 'bench-secret' });
  const event = {
    httpMethod: 'GET',
    path: '/.well-known/mcp-client-metadata.json',
    headers: { Host: host, 'x-mcp-edge-origin-verify': 'bench-secret' },
    multiValueHeaders: { Host: [host], 'x-mcp-edge-origin-verify': ['bench-secret'] },
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    body: null,
    isBase64Encoded: false,
    requestContext: { domainName: host },
  } as unknown as APIGatewayProxyEvent;
  const full = measure('Lambda handler (middy + event conversion + origin check)', 5_000, () =>
    handler(event, {} as Context),
  );

  const variants = [naive, core, conditional, full];
  for (const run of variants) await run(); // warm-up round: JIT, caches
  const ROUNDS = 5;
  const samples: { name: string; ns: number }[][] = variants.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, so load from elsewhere on the machine hits every variant alike.
    for (const [i, run] of variants.entries()) samples[i]!.push(await run());
  }
  const results = samples.map((s) => ({ name: s[0]!.name, ns: median(s.map((x) => x.ns)) }));
  const baseline = results[0]!;
  console.log(
    `\nCIMD hot path, ${routes.length} routes, median of ${ROUNDS} interleaved rounds (no goal in DESIGN: ratios only)`,
  );
  for (const r of results) {
    console.log(
      `  ${r.name.padEnd(60)} ${(1e9 / r.ns).toFixed(0).padStart(9)} ops/s  ${(r.ns / 1000).toFixed(2).padStart(7)} µs/op  ×${(baseline.ns / r.ns).toFixed(2)} vs baseline`,
    );
  }
}
