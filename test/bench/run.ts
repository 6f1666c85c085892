// npm run bench — prints figures for the CIMD hot path, each against a baseline measured in the
// same process: the naive handler that regenerates, serialises and hashes the document per request.
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { createCimdHandler } from '../../functions/cimd/app.ts';
import { createCimdResponder, prepareCimd } from '../../functions/core/cimd/serve.ts';
import { RouteTable } from '../../functions/core/routes.ts';

const routes = Array.from({ length: 50 }, (_, i) => ({
  from: `https://mcp${i}.example.com`,
  to: 'https://up.example.net/mcp',
}));
const table = new RouteTable(routes);
const host = 'mcp42.example.com';
const url = `https://${host}/.well-known/mcp-client-metadata.json`;

function measure(name: string, iterations: number, fn: () => unknown | Promise<unknown>) {
  return async () => {
    for (let i = 0; i < Math.min(2000, iterations / 10); i++) await fn();
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await fn();
    const ns = Number(process.hrtime.bigint() - start);
    const perOp = ns / iterations;
    return { name, opsPerSec: 1e9 / perOp, microsPerOp: perOp / 1000 };
  };
}

// The same answer built the obvious way: document, bytes, ETag and headers made per request.
const naive = measure('baseline: regenerate document + ETag + headers per request', 50_000, () => {
  const request = new Request(url);
  const route = table.forHost(new URL(request.url).host)!;
  const { body, ok } = prepareCimd(route);
  return new Response(body, { status: 200, headers: ok as [string, string][] });
});

const responder = createCimdResponder(table);
const core = measure('core responder (precomputed document + ETag)', 50_000, () =>
  responder(new Request(url)),
);
const conditional = measure('core responder, conditional GET → 304', 50_000, () =>
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
const full = measure('Lambda handler (middy + event conversion + origin check)', 20_000, () =>
  handler(event, {} as Context),
);

const etag = responder(new Request(url)).headers.get('etag')!;
const results = [];
for (const run of [naive, core, conditional, full]) results.push(await run());
const baseline = results[0]!;
console.log(`CIMD hot path, ${routes.length} routes, node ${process.version}`);
for (const r of results) {
  console.log(
    `${r.name.padEnd(60)} ${r.opsPerSec.toFixed(0).padStart(9)} ops/s  ${r.microsPerOp.toFixed(2).padStart(7)} µs/op  ×${(r.opsPerSec / baseline.opsPerSec).toFixed(2)} vs baseline`,
  );
}
