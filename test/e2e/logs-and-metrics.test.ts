import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { type CapturedLine, emfMetrics, lineProblems, readCapturedLines } from '../support/captured-logs.ts';
import { gatewayTokens, TEST_CLIENT } from '../support/gateway-tokens.ts';
import { caFetch, type HttpBrowser } from '../support/http-browser.ts';
import { leakedKindsIn, recordSecret, registeredSecrets } from '../support/secrets.ts';
import { scriptedUpstream } from '../support/upstreams/scripted-upstream.ts';

/**
 * One person's whole flow on the local gateway with its log lines captured (MCP_EDGE_LOG_FILE,
 * test/support/log-capture.ts): sign-in, the chained upstream connect, consent, the code and its
 * token, proxied JSON and SSE calls (each one refreshing the short-lived upstream token), an
 * upstream failure, a gateway refresh, the connections page, revocation, and refusals. Then what
 * the gateway wrote is read back: none of the secrets the flow handled, every line naming its
 * request, route and function, refusals their codes, and the metric contract's metrics.
 */
describe('logs and metrics of a full flow', () => {
  const upstream = scriptedUpstream();
  let fx: AuthorizationFixture;
  let browser: HttpBrowser;
  let lines: CapturedLine[];
  const logFile = process.env.MCP_EDGE_LOG_FILE!;
  const secretsFile = process.env.MCP_EDGE_SECRETS_FILE!;

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      upstreamMcp: upstream.mcp,
      config: () => ({ mcpClients: [{ ...TEST_CLIENT, redirectUris: [...TEST_CLIENT.redirectUris] }] }),
      // Below the refresh margin (60 s): every proxied call refreshes the upstream token first.
      upstreamTokenTtl: 30,
    });
    browser = fx.browser();
    const fetch = caFetch(browser.agent);
    const mcp = (token: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(fx.mcp(fx.A), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
        body: JSON.stringify(body),
      });
    const token = (form: Record<string, string>) =>
      fetch(`${fx.A}/.pomerium/mcp/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form),
      });
    const track = async (res: Response) => {
      await res.text();
      return res;
    };

    const tokens = await gatewayTokens(browser, fx.A, 'alice');
    // A proxied JSON call whose upstream hands out a session id (sealed by the gateway).
    const upstreamSession = `upstream-session-${randomBytes(16).toString('hex')}`;
    recordSecret('session id', upstreamSession);
    upstream.use({ kind: 'json', headers: { 'mcp-session-id': upstreamSession } });
    expect(
      (await track(await mcp(tokens.access_token, { jsonrpc: '2.0', id: 1, method: 'ping' }))).status,
    ).toBe(200);
    // An SSE answer relayed to its end.
    upstream.use({ kind: 'sse', everyMs: 5, count: 3 });
    expect(
      (await track(await mcp(tokens.access_token, { jsonrpc: '2.0', id: 2, method: 'ping' }))).status,
    ).toBe(200);
    // The upstream fails: 502 of ours.
    upstream.use({ kind: 'status', status: 503 });
    expect(
      (await track(await mcp(tokens.access_token, { jsonrpc: '2.0', id: 3, method: 'ping' }))).status,
    ).toBe(502);
    upstream.use({ kind: 'json' });
    // Refusals: no token, a forged one, a wrong code, a bad verifier.
    const noToken = await fetch(fx.mcp(fx.A), { method: 'POST', body: '{}' });
    expect((await track(noToken)).status).toBe(401);
    expect((await track(await mcp(`${tokens.access_token.slice(0, -4)}AAAA`, {}))).status).toBe(401);
    const wrongCode = await token({
      grant_type: 'authorization_code',
      client_id: TEST_CLIENT.clientId,
      code: randomBytes(32).toString('base64url'),
      redirect_uri: 'http://127.0.0.1:1/callback',
      code_verifier: randomBytes(32).toString('base64url'),
    });
    expect((await track(wrongCode)).status).toBe(400);
    // The gateway refresh grant, then the new token on the proxy.
    const refreshed = await token({
      grant_type: 'refresh_token',
      client_id: TEST_CLIENT.clientId,
      refresh_token: tokens.refresh_token!,
    });
    expect(refreshed.status).toBe(200);
    const next = (await refreshed.json()) as { access_token: string; refresh_token: string };
    expect(
      (await track(await mcp(next.access_token, { jsonrpc: '2.0', id: 4, method: 'ping' }))).status,
    ).toBe(200);
    // The connections page (connect function), then revocation and the revoked token refused.
    expect((await browser.request(new URL(`${fx.A}/.pomerium/connections`))).status).toBe(200);
    const revoked = await fetch(`${fx.A}/.pomerium/mcp/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: next.refresh_token, client_id: TEST_CLIENT.clientId }),
    });
    expect((await track(revoked)).status).toBe(200);
    const afterRevoke = await token({
      grant_type: 'refresh_token',
      client_id: TEST_CLIENT.clientId,
      refresh_token: next.refresh_token,
    });
    expect((await track(afterRevoke)).status).toBe(400);
    lines = readCapturedLines(logFile);
  });

  afterAll(async () => {
    await fx?.stop();
  });

  const logLines = () => lines.filter((l) => !l._aws);

  it('holds none of the tokens, codes, verifiers, cookies, keys or session ids the flow handled', async () => {
    const secrets = registeredSecrets('', secretsFile);
    const kinds = new Set(secrets.map((s) => s.kind));
    // The flow handled every kind the check is about (otherwise it would prove little).
    for (const kind of [
      'gateway access token',
      'gateway refresh token',
      'authorization code',
      'pkce verifier',
      'state',
      'cookie',
      'csrf token',
      'upstream access token',
      'upstream refresh token',
      'id token',
      'session id',
      'sealing key',
      'vault key',
      'signing key',
    ] as const) {
      expect(kinds, kind).toContain(kind);
    }
    expect(await leakedKindsIn([logFile], secrets)).toEqual(new Map());
  });

  it('finds a secret that is there: the check can fail', async () => {
    const [secret] = registeredSecrets('', secretsFile).filter((s) => s.kind === 'gateway refresh token');
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'mcp-edge-leak-'));
    const file = join(dir, 'leak.log.jsonl');
    await writeFile(file, `${JSON.stringify({ message: 'oops', token: secret!.value })}\n`);
    expect(await leakedKindsIn([file], [secret!])).toEqual(new Map([[file, ['gateway refresh token (1)']]]));
    await rm(dir, { recursive: true, force: true });
  });

  it('names the request, route and function on every line, and each refusal’s code', () => {
    expect(lineProblems(lines)).toEqual([]);
    const functions = new Set(logLines().map((l) => l.function));
    for (const name of ['login', 'callback', 'authorization', 'connect', 'proxy'])
      expect(functions).toContain(name);
    for (const line of logLines()) expect(line.route).toMatch(/^https:\/\/localhost:\d+$/);
    const refusals = logLines().filter((l) => l.level === 'WARN');
    expect(refusals.map((l) => [l.function, l.status, l.code])).toEqual(
      expect.arrayContaining([
        ['proxy', 401, 'token_missing'],
        ['proxy', 401, 'token_invalid'],
        ['proxy', 502, 'upstream_error'],
        ['authorization', 400, 'code_invalid'],
        ['authorization', 400, 'refresh_token_invalid'],
      ]),
    );
  });

  it('says what the upstream did on the proxy’s lines: status, latency, the refresh before each call', () => {
    const proxied = logLines().filter((l) => l.function === 'proxy' && l.upstreamStatus !== undefined);
    expect(proxied.map((l) => l.upstreamStatus)).toEqual(expect.arrayContaining([200, 503]));
    for (const line of proxied) {
      expect(typeof line.upstreamMs).toBe('number');
      expect(line.refresh).toBe('tokens');
    }
    const sse = logLines().find((l) => l.function === 'proxy' && typeof l.streamMs === 'number');
    expect(sse?.streamEnd).toBe('complete');
  });

  it('emits the metric contract’s metrics with the {service} and {service, code} dimensions', () => {
    const metrics = emfMetrics(lines);
    for (const name of [
      'TokensIssued',
      'ProxiedCalls',
      'ProxyLatency',
      'UpstreamLatency',
      'UpstreamErrors',
      'StreamDuration',
      'Refreshes',
      'Refusals',
    ]) {
      expect(metrics.get(name)?.dimensions, name).toEqual(['service=mcp-edge']);
    }
    // The code exchanged, then the gateway refresh.
    expect(metrics.get('TokensIssued')!.values.reduce((a, b) => a + b, 0)).toBe(2);
    expect(metrics.get('RefusalsByCode')?.dimensions).toEqual(
      expect.arrayContaining(['service=mcp-edge,code=token_missing', 'service=mcp-edge,code=upstream_error']),
    );
    expect(metrics.get('UpstreamErrors')!.values.reduce((a, b) => a + b, 0)).toBe(1);
  });
});
