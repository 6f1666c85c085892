import { setTimeout as sleep } from 'node:timers/promises';
import { Client, type FetchLike, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userDigest } from '../../functions/core/proxy/connect-required.ts';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { gatewayTokens, TEST_CLIENT } from '../support/gateway-tokens.ts';
import { caFetch, type HttpBrowser } from '../support/http-browser.ts';
import { expectRefusal } from '../support/refusals.ts';
import { createStatelessUpstream, type RecordedCall } from '../support/upstreams/stateless-upstream.ts';

/**
 * The proxy carries the 2026-07-28 wire end to end: an MCP SDK v2 client pinned to 2026-07-28, the
 * local gateway (route A, keep-alives every 300 ms), and a stateless SDK v2 upstream behind the demo
 * authorization server that records every request it gets.
 */

const KEEP_ALIVE_MS = 300;
const CONNECT_KEY = 'mcp-edge-connect';
const PROTOCOL = '2026-07-28';

type JsonRpcAnswer = {
  id?: unknown;
  result?: Record<string, unknown> & { resultType?: string };
  error?: { code: number; message: string; data?: unknown };
};

/** A chunk of a response body as the client received it, with its arrival time. */
interface Chunk {
  readonly at: number;
  readonly text: string;
}

describe('The MCP proxy on the 2026-07-28 wire', () => {
  const upstream = createStatelessUpstream();
  let fx: AuthorizationFixture;
  let alice: HttpBrowser;
  let aliceToken: string;
  let client: Client;
  /** Raw bodies of the client's `subscriptions/listen` responses. */
  const listenStreams: Chunk[][] = [];

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      upstreamMcp: upstream.mcp,
      proxyLimits: { keepAliveMs: KEEP_ALIVE_MS },
      config: () => ({ mcpClients: [{ ...TEST_CLIENT, redirectUris: [...TEST_CLIENT.redirectUris] }] }),
    });
    alice = fx.browser();
    aliceToken = (await gatewayTokens(alice, fx.A, 'alice')).access_token;
    client = await connectClient(aliceToken);
  });

  afterAll(async () => {
    await client?.close().catch(() => {});
    await upstream.close();
    await fx?.stop();
  });

  /** The client's fetch: trusts the development CA and keeps the raw bytes of listen streams. */
  function tappingFetch(browser: HttpBrowser): FetchLike {
    const base = caFetch(browser.agent);
    return async (url, init) => {
      const res = await base(url, init);
      const method = new Headers(init?.headers).get('mcp-method');
      if (method !== 'subscriptions/listen' || !res.body) return res;
      const chunks: Chunk[] = [];
      listenStreams.push(chunks);
      const decoder = new TextDecoder();
      const tap = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          chunks.push({ at: Date.now(), text: decoder.decode(chunk, { stream: true }) });
          controller.enqueue(chunk);
        },
      });
      return new Response(res.body.pipeThrough(tap), {
        status: res.status,
        statusText: res.statusText,
        headers: res.headers,
      });
    };
  }

  async function connectClient(
    token: string,
    options: {
      browser?: HttpBrowser;
      onUrl?: (url: string) => Promise<void>;
      /** Adopt this `server/discover` result instead of probing (a client that remembers it). */
      prior?: Client;
    } = {},
  ): Promise<Client> {
    const c = new Client(
      { name: 'mcp-edge-2026-test', version: '1.0.0' },
      {
        capabilities: options.onUrl ? { elicitation: { url: {} } } : {},
        versionNegotiation: { mode: { pin: PROTOCOL } },
      },
    );
    if (options.onUrl) {
      const onUrl = options.onUrl;
      c.setRequestHandler('elicitation/create', async (request) => {
        const params = request.params as { mode?: string; url?: string };
        if (params.mode !== 'url' || !params.url) return { action: 'decline' as const };
        await onUrl(params.url);
        return { action: 'accept' as const };
      });
    }
    await c.connect(
      new StreamableHTTPClientTransport(new URL(fx.mcp(fx.A)), {
        fetch: tappingFetch(options.browser ?? alice),
        authProvider: { token: async () => token },
      }),
      options.prior ? { prior: { kind: 'modern', discover: options.prior.getDiscoverResult()! } } : {},
    );
    return c;
  }

  function envelope(capabilities: Record<string, unknown> = {}) {
    return {
      'io.modelcontextprotocol/protocolVersion': PROTOCOL,
      'io.modelcontextprotocol/clientInfo': { name: 'raw-2026-test', version: '1.0.0' },
      'io.modelcontextprotocol/clientCapabilities': capabilities,
    };
  }

  /** A raw 2026-07-28 POST with the standard headers derived from the body (or as given). */
  async function post(
    token: string,
    message: { id: number | string; method: string; params: Record<string, unknown> },
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Headers; body: JsonRpcAnswer }> {
    const params = message.params;
    const name =
      typeof params.name === 'string' ? params.name : typeof params.uri === 'string' ? params.uri : undefined;
    const res = await caFetch(alice.agent)(fx.mcp(fx.A), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': PROTOCOL,
        'mcp-method': message.method,
        ...(name === undefined ? {} : { 'mcp-name': name }),
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', ...message }),
    });
    const text = await res.text();
    const sse = /^text\/event-stream/.test(res.headers.get('content-type') ?? '');
    const json = sse
      ? (text
          .match(/^data: (.+)$/gm)
          ?.at(-1)
          ?.slice(6) ?? '{}')
      : text || '{}';
    return { status: res.status, headers: res.headers, body: JSON.parse(json) as JsonRpcAnswer };
  }

  const callsBy = (sub: string, method?: string): RecordedCall[] =>
    upstream.calls.filter((c) => c.sub === sub && (method === undefined || c.jsonrpcMethod === method));

  const routeClientId = () => `${fx.A}/.well-known/mcp-client-metadata.json`;

  describe('a connected person with an SDK v2 client pinned to 2026-07-28', () => {
    it('negotiates 2026-07-28 through the gateway and lists the upstream’s tools, x-mcp-header intact', async () => {
      expect(client.getProtocolEra()).toBe('modern');
      expect(client.getNegotiatedProtocolVersion()).toBe(PROTOCOL);
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['echo', 'touch_tools', 'whoami']);
      const echo = tools.find((t) => t.name === 'echo')!;
      expect(echo.inputSchema.properties?.region).toMatchObject({ 'x-mcp-header': 'Region' });
      const listed = callsBy('alice', 'tools/list').at(-1)!;
      expect(listed).toMatchObject({
        httpMethod: 'POST',
        mcpMethodHeader: 'tools/list',
        mcpNameHeader: undefined,
        protocolVersionHeader: PROTOCOL,
        sessionId: undefined,
      });
    });

    it('calls whoami as the person, through the route’s own OAuth client at the upstream', async () => {
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(result.structuredContent).toEqual({ sub: 'alice', client_id: routeClientId() });
      expect(callsBy('alice', 'tools/call').at(-1)).toMatchObject({
        mcpMethodHeader: 'tools/call',
        mcpNameHeader: 'whoami',
        sub: 'alice',
        clientId: routeClientId(),
      });
    });

    it('passes Mcp-Method, Mcp-Name and Mcp-Param-* to the upstream as the client sent them (base64 sentinel too)', async () => {
      const plain = await client.callTool({ name: 'echo', arguments: { text: 'hi', region: 'eu-west-1' } });
      expect(plain.content).toEqual([{ type: 'text', text: 'hi (region eu-west-1)' }]);
      expect(callsBy('alice', 'tools/call').at(-1)).toMatchObject({
        jsonrpcMethod: 'tools/call',
        mcpMethodHeader: 'tools/call',
        mcpNameHeader: 'echo',
        mcpParamHeaders: { 'mcp-param-region': 'eu-west-1' },
      });
      const encoded = await client.callTool({ name: 'echo', arguments: { text: 'hi', region: 'Zürich ' } });
      expect(encoded.content).toEqual([{ type: 'text', text: 'hi (region Zürich )' }]);
      expect(callsBy('alice', 'tools/call').at(-1)?.mcpParamHeaders).toEqual({
        'mcp-param-region': `=?base64?${Buffer.from('Zürich ').toString('base64')}?=`,
      });
    });

    it('keeps a subscriptions/listen stream open with its own keep-alives, and a change after more than two intervals still arrives', async () => {
      const changed = new Promise<number>((resolve) => {
        client.setNotificationHandler('notifications/tools/list_changed', () => resolve(Date.now()));
      });
      const subscription = await client.listen({ toolsListChanged: true });
      expect(subscription.honoredFilter).toMatchObject({ toolsListChanged: true });
      const acknowledgedAt = Date.now();
      await sleep(KEEP_ALIVE_MS * 3 + 100);
      // The change is made through the gateway too: another POST while the stream stays open.
      await client.callTool({ name: 'touch_tools', arguments: {} });
      const arrivedAt = await changed;
      expect(arrivedAt - acknowledgedAt).toBeGreaterThan(KEEP_ALIVE_MS * 2);
      await subscription.close();

      const chunks = listenStreams.at(-1)!;
      const raw = chunks.map((c) => c.text).join('');
      const ack = raw.indexOf('notifications/subscriptions/acknowledged');
      const change = raw.indexOf('notifications/tools/list_changed');
      expect(ack).toBeGreaterThan(-1);
      expect(change).toBeGreaterThan(ack);
      // Between the two events only the gateway's comments (the upstream's own are off).
      const between = raw.slice(raw.indexOf('\n\n', ack) + 2, raw.lastIndexOf('event:', change));
      expect(between.match(/^: keep-alive$/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
      expect(between.replace(/^: keep-alive\n\n/gm, '')).toBe('');
      expect(raw).not.toContain(': keepalive');
      expect(callsBy('alice', 'subscriptions/listen').at(-1)).toMatchObject({
        mcpMethodHeader: 'subscriptions/listen',
        mcpNameHeader: undefined,
      });
    });

    it('refuses an Mcp-Method header that disagrees with the body: 400, JSON-RPC -32020, nothing sent upstream', async () => {
      const before = upstream.calls.length;
      const answer = await post(
        aliceToken,
        { id: 41, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: envelope() } },
        { 'mcp-method': 'tools/list' },
      );
      expectRefusal(answer, 400, 'mcp_method_mismatch');
      expect(answer.body).toMatchObject({
        id: 41,
        error: { code: -32020, data: { error: 'mcp_method_mismatch' } },
      });
      expect(upstream.calls.length).toBe(before);
    });

    it('refuses an Mcp-Name header that disagrees with the body the same way', async () => {
      const before = upstream.calls.length;
      const answer = await post(
        aliceToken,
        { id: 42, method: 'tools/call', params: { name: 'whoami', arguments: {}, _meta: envelope() } },
        { 'mcp-name': 'echo' },
      );
      expectRefusal(answer, 400, 'mcp_name_mismatch');
      expect(answer.body).toMatchObject({ id: 42, error: { code: -32020 } });
      expect(upstream.calls.length).toBe(before);
    });

    // Regression (gateway): the SDK encodes a non-ASCII Mcp-Name as `=?base64?…?=` (SEP-2243), and the
    // gateway compared it with the body undecoded, refusing a correct request with -32020.
    it('forwards a prompts/get whose Mcp-Name carries the base64 sentinel (a non-ASCII prompt name)', async () => {
      const prompt = await client.getPrompt({ name: 'grüße' });
      expect(prompt.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'Grüße!' } }]);
      expect(callsBy('alice', 'prompts/get').at(-1)?.mcpNameHeader).toBe(
        `=?base64?${Buffer.from('grüße').toString('base64')}?=`,
      );
    });

    // Regression (gateway): tasks/get, tasks/update and tasks/cancel mirror `params.taskId` in Mcp-Name
    // (the SDK's MCP_NAME_HEADER_SOURCE); the gateway only knew name and uri and refused them with -32020.
    it('forwards tasks/get whose Mcp-Name mirrors params.taskId', async () => {
      const before = upstream.calls.length;
      const answer = await post(
        aliceToken,
        {
          id: 43,
          method: 'tasks/get',
          params: { taskId: 'task-1', _meta: envelope() },
        },
        { 'mcp-name': 'task-1' },
      );
      expect(answer.body.error?.code).not.toBe(-32020);
      expect(upstream.calls.length).toBe(before + 1);
      expect(upstream.calls.at(-1)).toMatchObject({ jsonrpcMethod: 'tasks/get', mcpNameHeader: 'task-1' });
    });
  });

  describe('a person whose upstream connection is gone (connect required, 2026-07-28)', () => {
    let bob: HttpBrowser;
    let bobToken: string;
    let connectUrl: URL;
    let requestState: string;
    const whoami = (id: number, meta: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      id,
      method: 'tools/call',
      params: { name: 'whoami', arguments: {}, _meta: meta, ...extra },
    });

    beforeAll(async () => {
      bob = fx.browser();
      bobToken = (await gatewayTokens(bob, fx.A, 'bob')).access_token;
      // Before bob's first call: the proxy keeps a token it has read for up to 60 s per instance.
      await fx.gateway.services.vault.delete({ route: fx.A, user: fx.userId('bob') });
    });

    it('answers a client that did not declare URL elicitation with 401 invalid_token', async () => {
      const answer = await post(bobToken, whoami(50, envelope()));
      expectRefusal(answer, 401, 'connect_required');
      expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(callsBy('bob')).toEqual([]);
    });

    it('answers 401 invalid_token to a method that cannot carry input_required (the server/discover probe), whatever the client declared', async () => {
      const answer = await post(bobToken, {
        id: 'server-discover-probe-1',
        method: 'server/discover',
        params: { _meta: envelope({ elicitation: { url: {} } }) },
      });
      expectRefusal(answer, 401, 'connect_required');
      expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(callsBy('bob')).toEqual([]);
    });

    it('answers a request declaring URL elicitation with input_required: the route’s connect page for this person, and a requestState', async () => {
      const answer = await post(bobToken, whoami(51, envelope({ elicitation: { url: {} } })));
      expectRefusal(answer, 200, 'connect_required');
      expect(answer.body.id).toBe(51);
      const result = answer.body.result as {
        resultType: string;
        inputRequests: Record<
          string,
          { method: string; params: { mode: string; url: string; message: string } }
        >;
        requestState: string;
      };
      expect(result.resultType).toBe('input_required');
      expect(Object.keys(result.inputRequests)).toEqual([CONNECT_KEY]);
      const request = result.inputRequests[CONNECT_KEY]!;
      expect(request.method).toBe('elicitation/create');
      expect(request.params).toEqual({ mode: 'url', url: expect.any(String), message: expect.any(String) });
      connectUrl = new URL(request.params.url);
      expect(`${connectUrl.origin}${connectUrl.pathname}`).toBe(`${fx.A}/.pomerium/connect`);
      expect(connectUrl.searchParams.get('for')).toBe(userDigest(fx.userId('bob')));
      expect(typeof result.requestState).toBe('string');
      requestState = result.requestState;
      expect(callsBy('bob')).toEqual([]);
    });

    it('refuses that connect link to another signed-in person', async () => {
      const page = await alice.request(connectUrl);
      expectRefusal(page, 403, 'other_user');
    });

    it('refuses the requestState on another call (another tool): 400 -32602', async () => {
      const answer = await post(bobToken, {
        id: 52,
        method: 'tools/call',
        params: {
          name: 'echo',
          arguments: { text: 'x' },
          _meta: envelope({ elicitation: { url: {} } }),
          inputResponses: { [CONNECT_KEY]: { action: 'accept' } },
          requestState,
        },
      });
      expectRefusal(answer, 400, 'request_state_invalid');
      expect(answer.body).toMatchObject({ id: 52, error: { code: -32602 } });
    });

    it('after the person connects through the link, the same call retried with inputResponses and requestState succeeds, and the upstream never sees them', async () => {
      const end = await bob.follow(connectUrl, 'bob');
      expect(end.url.href).toBe(`${fx.A}/.pomerium/connections`);
      expect((await fx.gateway.services.vault.get({ route: fx.A, user: fx.userId('bob') })).ok).toBe(true);

      const answer = await post(
        bobToken,
        whoami(53, envelope({ elicitation: { url: {} } }), {
          inputResponses: { [CONNECT_KEY]: { action: 'accept' }, upstream_own: { action: 'decline' } },
          requestState,
        }),
      );
      expect(answer.status).toBe(200);
      expect(answer.body.result).toMatchObject({
        structuredContent: { sub: 'bob', client_id: routeClientId() },
      });
      const seen = callsBy('bob', 'tools/call');
      expect(seen).toHaveLength(1);
      expect(seen[0]!.params).not.toHaveProperty('requestState');
      // Only the gateway's own entry is taken out; anything else the client answered stays.
      expect(seen[0]!.params?.inputResponses).toEqual({ upstream_own: { action: 'decline' } });
      expect(seen[0]!.params).toMatchObject({ name: 'whoami', arguments: {} });
    });

    it('forwards a requestState sealed for another person untouched (it is not the gateway’s for this caller)', async () => {
      const answer = await post(
        aliceToken,
        whoami(54, envelope({ elicitation: { url: {} } }), {
          inputResponses: { [CONNECT_KEY]: { action: 'accept' } },
          requestState,
        }),
      );
      expect(answer.status).toBe(200);
      expect(answer.body.result).toMatchObject({ structuredContent: { sub: 'alice' } });
      expect(callsBy('alice', 'tools/call').at(-1)?.params).toMatchObject({
        requestState,
        inputResponses: { [CONNECT_KEY]: { action: 'accept' } },
      });
    });

    it('forwards a forged requestState untouched too (the upstream judges its own state)', async () => {
      const answer = await post(
        aliceToken,
        whoami(55, envelope(), { requestState: 'forged.state', inputResponses: {} }),
      );
      expect(answer.status).toBe(200);
      expect(callsBy('alice', 'tools/call').at(-1)?.params).toMatchObject({ requestState: 'forged.state' });
    });

    it('lets an SDK v2 client finish the connect inside callTool (URL elicitation handler, automatic retry)', async () => {
      const carol = fx.browser();
      const carolToken = (await gatewayTokens(carol, fx.A, 'carol')).access_token;
      await fx.gateway.services.vault.delete({ route: fx.A, user: fx.userId('carol') });
      const opened: string[] = [];
      // A client that remembers the server's discover result: its first request is the call itself
      // (a disconnected person's server/discover probe is answered 401, the OAuth path).
      const carolClient = await connectClient(carolToken, {
        prior: client,
        browser: carol,
        onUrl: async (url) => {
          opened.push(url);
          await carol.follow(new URL(url), 'carol');
        },
      });
      try {
        const result = await carolClient.callTool({ name: 'whoami', arguments: {} });
        expect(result.structuredContent).toEqual({ sub: 'carol', client_id: routeClientId() });
        expect(opened).toHaveLength(1);
        expect(new URL(opened[0]!).searchParams.get('for')).toBe(userDigest(fx.userId('carol')));
        const seen = callsBy('carol', 'tools/call');
        expect(seen).toHaveLength(1);
        expect(seen[0]!.params).not.toHaveProperty('requestState');
        expect(seen[0]!.params).not.toHaveProperty('inputResponses');
      } finally {
        await carolClient.close().catch(() => {});
      }
    });
  });
});
