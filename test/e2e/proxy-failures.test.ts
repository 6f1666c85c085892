import { connect } from 'node:net';
import { decodeJwt } from 'jose';
import { Agent, type RequestInit as UndiciRequestInit, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { type GatewayTokens, gatewayTokens, TEST_CLIENT } from '../support/gateway-tokens.ts';
import type { HttpBrowser } from '../support/http-browser.ts';
import { expectRefusal } from '../support/refusals.ts';
import { type RecordedRequest, scriptedUpstream } from '../support/upstreams/scripted-upstream.ts';

/**
 * The MCP proxy on a bad day, over HTTPS on the local gateway: an upstream that is refused, slow,
 * answers garbage or a 5xx; requests that are too large or not JSON-RPC; the header rules both
 * ways; and the upstream refusing the person's token (one refresh and one retry, never a loop).
 * Every failure is a JSON-RPC error echoing the request id, never a 500 or a stack trace, and
 * nothing the run handled (tokens, codes, cookies) reaches a log line.
 */
describe('the MCP proxy when the upstream or the request fails', () => {
  const upstream = scriptedUpstream();
  let fx: AuthorizationFixture;
  let browser: HttpBrowser;
  let alice: GatewayTokens;
  let agent: Agent;
  const consoleSpies: MockInstance[] = [];

  beforeAll(async () => {
    for (const method of ['log', 'error', 'warn', 'info', 'debug'] as const) {
      consoleSpies.push(vi.spyOn(console, method));
    }
    fx = await startAuthorizationFixture({
      upstreamMcp: upstream.mcp,
      config: () => ({ mcpClients: [{ ...TEST_CLIENT, redirectUris: [...TEST_CLIENT.redirectUris] }] }),
      proxyLimits: { headersTimeoutMs: 500 },
    });
    browser = fx.browser();
    alice = await gatewayTokens(browser, fx.A, 'alice');
    agent = new Agent({ connect: { ca: fx.cert.ca } });
  });

  afterAll(async () => {
    await agent?.close();
    await fx?.stop();
    // The whole file, teardown included: no secret in any log line.
    expect(leakedSecrets()).toEqual([]);
    for (const spy of consoleSpies) spy.mockRestore();
  });

  type Id = string | number;

  function post(
    body: string | Uint8Array | ReadableStream<Uint8Array>,
    headers: Record<string, string> = {},
    token = alice.access_token,
  ) {
    return undiciFetch(fx.mcp(fx.A), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: body as UndiciRequestInit['body'],
      dispatcher: agent,
      ...(body instanceof ReadableStream ? { duplex: 'half' as const } : {}),
    });
  }

  function toolCall(id: Id, name = 'echo') {
    return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } });
  }

  /** The requests that reached the upstream while `fn` ran. */
  async function during<T>(fn: () => Promise<T>): Promise<{ value: T; reached: RecordedRequest[] }> {
    const before = upstream.requests.length;
    const value = await fn();
    return { value, reached: upstream.requests.slice(before) };
  }

  /** A JSON-RPC error answer: its status, body, and the checks every failure answer must pass. */
  async function expectJsonRpcError(
    res: Awaited<ReturnType<typeof post>>,
    status: number,
    id: Id | null,
    code: number,
    refusal: string,
  ) {
    const text = await res.text();
    expectRefusal(res, status, refusal);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = JSON.parse(text) as {
      jsonrpc: string;
      id: Id | null;
      error: { code: number; message: string; data?: { error?: string; status?: number } };
    };
    expect(body).toMatchObject({ jsonrpc: '2.0', id, error: { code, data: { error: refusal } } });
    expect(body.error.message.length).toBeGreaterThan(10);
    // Never a stack trace, a source location or the upstream's own body.
    expect(text).not.toMatch(/\bat \S+ \(|\.[jt]s:\d+|stack|upstream failure/i);
    return body;
  }

  describe('upstream failures answer 502 or 504 with a JSON-RPC error echoing the id', () => {
    it.each(['call-7', 42])(
      'answers 502 upstream_refused when nothing listens at the route’s `to` (id %j)',
      async (id) => {
        // Learn the upstream's port from a first exchange, then close it.
        upstream.use({ kind: 'json' });
        expect((await post(toolCall('warm-up'))).status).toBe(200);
        await upstream.closePort();
        try {
          const port = Number(new URL(fx.demo.upstream.mcpUrl).port);
          const refused = await new Promise<string>((resolve) => {
            const socket = connect(port, '127.0.0.1');
            socket.once('connect', () => resolve('connected'));
            socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
          });
          expect(refused).toBe('ECONNREFUSED');
          await expectJsonRpcError(await post(toolCall(id)), 502, id, -32001, 'upstream_refused');
        } finally {
          await upstream.reopenPort();
        }
      },
    );

    it.each(['slow-1', 7])(
      'answers 504 upstream_timeout when the upstream never answers (id %j)',
      async (id) => {
        upstream.use({ kind: 'slow' });
        const started = Date.now();
        const { value: res, reached } = await during(() => post(toolCall(id)));
        await expectJsonRpcError(res, 504, id, -32001, 'upstream_timeout');
        const took = Date.now() - started;
        expect(took).toBeGreaterThanOrEqual(450);
        expect(took).toBeLessThan(3000);
        // The proxy gave up on the exchange: the upstream saw its request go away.
        expect(reached).toHaveLength(1);
        await expect(reached[0]!.closed).resolves.toMatchObject({ completed: false });
      },
    );

    it('answers 504 when the upstream would answer, but after the head timeout (2 s > 500 ms)', async () => {
      upstream.use({ kind: 'slow', afterMs: 2000 });
      const started = Date.now();
      await expectJsonRpcError(await post(toolCall('late')), 504, 'late', -32001, 'upstream_timeout');
      expect(Date.now() - started).toBeLessThan(1900);
    });

    it.each(['junk', 0])(
      'answers 502 upstream_invalid when the upstream sends bytes that are not HTTP (id %j)',
      async (id) => {
        upstream.use({ kind: 'garbage' });
        await expectJsonRpcError(await post(toolCall(id)), 502, id, -32001, 'upstream_invalid');
      },
    );

    it('answers 502 upstream_refused when the upstream drops the connection without an answer', async () => {
      upstream.use({ kind: 'hang-up' });
      await expectJsonRpcError(await post(toolCall(99)), 502, 99, -32001, 'upstream_refused');
    });

    it.each([
      [500, 'five-hundred'],
      [503, 3],
      [504, 'gateway'],
    ] as const)(
      'answers 502 upstream_error, not the body, when the upstream fails with %i (id %j)',
      async (status, id) => {
        upstream.use({ kind: 'status', status });
        const body = await expectJsonRpcError(await post(toolCall(id)), 502, id, -32001, 'upstream_error');
        expect(body.error.data).toEqual({ error: 'upstream_error', status });
      },
    );

    it('does not answer a body the upstream cut mid-way as if it were complete', async () => {
      upstream.use({
        kind: 'bytes',
        total: 1024 * 1024,
        chunkBytes: 16 * 1024,
        format: 'json',
        breakAfterBytes: 256 * 1024,
      });
      const res = await post(toolCall('cut'));
      expect(res.status).toBe(200);
      // Either the read fails (the connection is aborted) or what arrived is visibly incomplete.
      const outcome = await res.text().then(
        (text) => ({ complete: isJson(text), length: text.length }),
        () => ({ complete: false, length: -1 }),
      );
      expect(outcome.complete).toBe(false);
    });

    it('still serves the next call normally after all those failures', async () => {
      upstream.use({ kind: 'json', result: { fine: true } });
      const res = await post(toolCall('after'));
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 'after', result: { fine: true } });
    });
  });

  describe('requests the proxy refuses before anything goes upstream', () => {
    /** A tools/call body of exactly `size` bytes. */
    function bodyOfSize(size: number, id: Id = 'big'): Uint8Array {
      const empty = toolCallWithText(id, '');
      return new TextEncoder().encode(toolCallWithText(id, 'x'.repeat(size - empty.length)));
    }
    function toolCallWithText(id: Id, text: string) {
      return JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text } },
      });
    }

    it('forwards a body of exactly 4 MiB', async () => {
      upstream.use({ kind: 'json' });
      const body = bodyOfSize(4 * 1024 * 1024);
      expect(body.byteLength).toBe(4 * 1024 * 1024);
      const { value: res, reached } = await during(() => post(body));
      expect(res.status, await res.clone().text()).toBe(200);
      expect(reached).toHaveLength(1);
      expect(Buffer.byteLength(reached[0]!.body)).toBe(4 * 1024 * 1024);
    });

    it('answers 413 with a JSON-RPC error to a body of 4 MiB + 1 byte, and sends nothing upstream', async () => {
      const started = Date.now();
      const { value: res, reached } = await during(() => post(bodyOfSize(4 * 1024 * 1024 + 1)));
      await expectJsonRpcError(res, 413, null, -32600, 'request_too_large');
      expect(reached).toHaveLength(0);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('answers 413 to a 4 MiB + 1 byte body streamed without Content-Length', async () => {
      const bytes = bodyOfSize(4 * 1024 * 1024 + 1);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.byteLength; i += 256 * 1024)
            controller.enqueue(bytes.slice(i, i + 256 * 1024));
          controller.close();
        },
      });
      const { value: res, reached } = await during(() => post(stream));
      await expectJsonRpcError(res, 413, null, -32600, 'request_too_large');
      expect(reached).toHaveLength(0);
    });

    it('answers 400 with -32700 to a body that is not JSON', async () => {
      const { value: res, reached } = await during(() => post('{"jsonrpc":"2.0","id":1,'));
      await expectJsonRpcError(res, 400, null, -32700, 'body_not_json');
      expect(reached).toHaveLength(0);
    });

    it('answers 400 to a JSON-RPC batch (one message per request)', async () => {
      const batch = JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'ping' },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
      ]);
      const { value: res, reached } = await during(() => post(batch));
      await expectJsonRpcError(res, 400, null, -32600, 'jsonrpc_invalid');
      expect(reached).toHaveLength(0);
    });

    it('answers 400 with -32020 when Mcp-Method does not say what the body says, echoing the id', async () => {
      const { value: res, reached } = await during(() =>
        post(toolCall('mismatch'), { 'mcp-method': 'tools/list', 'mcp-protocol-version': '2026-07-28' }),
      );
      await expectJsonRpcError(res, 400, 'mismatch', -32020, 'mcp_method_mismatch');
      expect(reached).toHaveLength(0);
    });
  });

  describe('header rules', () => {
    const CLIENT_ONLY = {
      cookie: 'gateway_session=client-cookie-value; other=1',
      'x-forwarded-for': '203.0.113.9',
      'x-mcp-edge-origin-verify': 'the-origin-secret',
      'x-custom': 'custom-value',
    };
    const FORWARDED = {
      'mcp-protocol-version': '2026-07-28',
      'last-event-id': 'event-41',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
      'mcp-param-text': 'hello',
    };

    it('sends the upstream the person’s upstream token and the MCP headers, never the client’s Authorization, cookies, X-Forwarded-For, the origin secret or other headers', async () => {
      upstream.use({ kind: 'json' });
      const { value: res, reached } = await during(() =>
        post(toolCall('headers'), { ...CLIENT_ONLY, ...FORWARDED }),
      );
      expect(res.status).toBe(200);
      expect(reached).toHaveLength(1);
      const seen = reached[0]!;
      // The person's upstream token, issued by the upstream's AS for the upstream: not the gateway's.
      expect(seen.token).toBeDefined();
      expect(seen.token).not.toBe(alice.access_token);
      expect(seen.headers.authorization).not.toContain(alice.access_token);
      expect(decodeJwt(seen.token!)).toMatchObject({
        iss: fx.demo.upstream.issuer,
        aud: fx.demo.upstream.mcpUrl,
      });
      for (const name of Object.keys(CLIENT_ONLY)) expect(seen.headers, name).not.toHaveProperty(name);
      expect(seen.headers).toMatchObject({
        ...FORWARDED,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      });
    });

    it('never passes the upstream’s Set-Cookie or WWW-Authenticate to the client, and adds X-Accel-Buffering: no', async () => {
      upstream.use({
        kind: 'json',
        headers: {
          'set-cookie': ['upstream_session=upstream-cookie-value; Path=/; HttpOnly', 'b=2'],
          'www-authenticate': 'Bearer realm="upstream", error="invalid_token"',
          'x-upstream-internal': 'secret-topology',
        },
      });
      const res = await post(toolCall('answer-headers'));
      expect(res.status).toBe(200);
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(res.headers.getSetCookie()).toEqual([]);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(res.headers.get('x-upstream-internal')).toBeNull();
      expect(res.headers.get('x-accel-buffering')).toBe('no');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject({ id: 'answer-headers' });
    });
  });

  describe('the upstream refuses the person’s token', () => {
    /** Makes one normal call and returns the upstream token the proxy used. */
    async function currentUpstreamToken(): Promise<string> {
      upstream.use({ kind: 'json' });
      const { value: res, reached } = await during(() => post(toolCall('which-token')));
      expect(res.status).toBe(200);
      return reached[0]!.token!;
    }

    it('refreshes once at the upstream’s authorization server and retries: the call succeeds', async () => {
      const stale = await currentUpstreamToken();
      upstream.use({
        kind: 'unauthorized',
        token: stale,
        otherwise: { kind: 'json', result: { retried: true } },
      });
      const tokenCalls = fx.demo.upstream.tokenRequests();
      const { value: res, reached } = await during(() => post(toolCall('retry-me')));
      expect(res.status).toBe(200);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 'retry-me', result: { retried: true } });
      expect(fx.demo.upstream.tokenRequests() - tokenCalls).toBe(1);
      expect(reached.map((r) => r.token === stale)).toEqual([true, false]);
      // The refreshed token is kept: the next call uses it without another refresh.
      const fresh = reached[1]!.token;
      const next = await during(() => post(toolCall('after-refresh')));
      expect(next.value.status).toBe(200);
      expect(next.reached.map((r) => r.token)).toEqual([fresh]);
      expect(fx.demo.upstream.tokenRequests() - tokenCalls).toBe(1);
    });

    it.each(['twice', 401])(
      'answers a clear 502 when the upstream refuses the refreshed token too, after exactly one refresh and two requests (id %j)',
      async (id) => {
        upstream.use({ kind: 'unauthorized' });
        const tokenCalls = fx.demo.upstream.tokenRequests();
        const { value: res, reached } = await during(() => post(toolCall(id)));
        expect(res.headers.get('www-authenticate')).toBeNull();
        await expectJsonRpcError(res, 502, id, -32001, 'upstream_unauthorized');
        expect(reached).toHaveLength(2);
        expect(reached[0]!.token).not.toBe(reached[1]!.token);
        expect(fx.demo.upstream.tokenRequests() - tokenCalls).toBe(1);
      },
    );

    it('answers a client without URL elicitation 401 invalid_token (connect required) to an upstream 403 insufficient_scope', async () => {
      upstream.use({ kind: 'insufficient-scope' });
      const { value: res, reached } = await during(() => post(toolCall('scope')));
      expect(reached).toHaveLength(1);
      expectRefusal(res, 401, 'upstream_scope_insufficient');
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toContain('error="invalid_token"');
      expect(challenge).toContain(`resource_metadata="${fx.A}/.well-known/oauth-protected-resource/mcp"`);
      // The upstream's own challenge (its scopes, its metadata) does not reach the client.
      expect(challenge).not.toContain('admin');
      expect(challenge).not.toContain(fx.demo.upstream.mcpUrl);
      expect(await res.json()).toMatchObject({ error: 'invalid_token' });
    });

    it('answers a 2026-07-28 call that declares URL elicitation with input_required and the connect page', async () => {
      upstream.use({ kind: 'insufficient-scope' });
      const res = await post(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 'scope-2026',
          method: 'tools/call',
          params: {
            name: 'echo',
            arguments: {},
            _meta: { 'io.modelcontextprotocol/clientCapabilities': { elicitation: { url: {} } } },
          },
        }),
        { 'mcp-protocol-version': '2026-07-28' },
      );
      // A 200 JSON-RPC answer, yet the call was not forwarded: the header still names the refusal.
      expectRefusal(res, 200, 'upstream_scope_insufficient');
      const body = (await res.json()) as {
        id: string;
        result: {
          resultType: string;
          inputRequests: Record<string, { params: { mode: string; url: string } }>;
        };
      };
      expect(body.id).toBe('scope-2026');
      expect(body.result.resultType).toBe('input_required');
      const [request] = Object.values(body.result.inputRequests);
      expect(request?.params.mode).toBe('url');
      expect(request?.params.url.startsWith(`${fx.A}/.pomerium/connect?`)).toBe(true);
    });
  });

  function isJson(text: string): boolean {
    try {
      JSON.parse(text);
      return true;
    } catch {
      return false;
    }
  }

  /** Every token, code and cookie value the run handled. */
  function secrets(): string[] {
    const values = new Set<string>();
    const add = (value: string | null | undefined) => {
      if (value && value.length >= 8) values.add(value);
    };
    add(alice?.access_token);
    add(alice?.refresh_token);
    for (const r of upstream.requests) add(r.token);
    for (const url of browser?.visited ?? []) {
      add(url.searchParams.get('code'));
      add(url.searchParams.get('state'));
    }
    for (const exchange of browser?.seen ?? []) {
      const location = exchange.headers.get('location');
      if (location) {
        const url = new URL(location, exchange.url);
        add(url.searchParams.get('code'));
        add(url.searchParams.get('state'));
      }
      for (const line of exchange.headers.getSetCookie()) {
        const pair = line.split(';')[0] ?? '';
        add(pair.slice(pair.indexOf('=') + 1));
      }
    }
    add('client-cookie-value');
    add('upstream-cookie-value');
    add('the-origin-secret');
    return [...values];
  }

  function leakedSecrets(): string[] {
    const lines = consoleSpies.flatMap((spy) =>
      spy.mock.calls.map((args) => args.map((a) => (typeof a === 'string' ? a : safeJson(a))).join(' ')),
    );
    return secrets().filter((secret) => lines.some((line) => line.includes(secret)));
  }

  function safeJson(value: unknown): string {
    try {
      return value instanceof Error
        ? `${value.name}: ${value.message} ${value.stack}`
        : JSON.stringify(value);
    } catch {
      return String(value);
    }
  }

  it('wrote no token, code, state or cookie value in any log line during the run', () => {
    const all = secrets();
    expect(all.length).toBeGreaterThan(5);
    expect(upstream.requests.some((r) => r.token)).toBe(true);
    expect(leakedSecrets()).toEqual([]);
  });
});
