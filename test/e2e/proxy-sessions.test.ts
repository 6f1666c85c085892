import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type JSONRPCMessage,
  LoggingMessageNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { TEST_CLIENT } from '../support/gateway-tokens.ts';
import { caFetch, type HttpBrowser } from '../support/http-browser.ts';
import { MemoryOAuthProvider } from '../support/sdk-oauth-provider.ts';
import { SessionRecorder, sessionUpstream } from '../support/upstreams/session-upstream.ts';

/** Resolves when `check` holds, polling; fails after `timeoutMs`. */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * An MCP SDK v1 client talks to a 2025-11-25 upstream that keeps sessions, through route A of the
 * local gateway, with a gateway token it got the MCP way (401 → discovery → authorization code
 * with PKCE in the browser). The session, its progress notifications, its GET stream and its end
 * all cross the proxy; the upstream sees the person's upstream token, never the gateway's.
 */
describe('the MCP proxy carries a 2025-11-25 session end to end', () => {
  const LOGIN = 'alice';
  const recorder = new SessionRecorder();
  let fx: AuthorizationFixture;
  let browser: HttpBrowser;
  let provider: MemoryOAuthProvider;
  let client: Client;
  let transport: StreamableHTTPClientTransport;
  /** The session id the client got at initialize (sealed by the gateway). */
  let initialSessionId: string;
  const logMessages: { at: number; data: unknown }[] = [];
  let toolListChanges = 0;
  const cimd = (origin: string) => `${origin}/.well-known/mcp-client-metadata.json`;

  const newTransport = (sessionId?: string) =>
    new StreamableHTTPClientTransport(new URL(fx.mcp(fx.A)), {
      authProvider: provider,
      fetch: caFetch(browser.agent),
      reconnectionOptions: {
        initialReconnectionDelay: 200,
        maxReconnectionDelay: 500,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 1,
      },
      ...(sessionId ? { sessionId } : {}),
    });

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      upstreamMcp: sessionUpstream(recorder),
      config: () => ({ mcpClients: [{ ...TEST_CLIENT, redirectUris: [...TEST_CLIENT.redirectUris] }] }),
    });
    browser = fx.browser();
    provider = new MemoryOAuthProvider({
      redirectUrl: 'http://127.0.0.1:53682/callback',
      clientId: TEST_CLIENT.clientId,
    });
    // The MCP way: the first connect meets the 401, the SDK discovers the route's authorization
    // server and asks for the browser; sign-in, the upstream connect and consent happen there.
    const first = newTransport();
    await expect(new Client({ name: 't', version: '1' }).connect(first)).rejects.toThrow(/Unauthorized/);
    const callback = await browser.authorize(provider.authorizationUrl!, provider.redirectUrl, LOGIN, {
      consent: 'allow',
    });
    await first.finishAuth(callback.searchParams.get('code')!);
    await first.close();

    client = new Client({ name: 'mcp-edge-session-test', version: '1.0.0' });
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
      logMessages.push({ at: Date.now(), data: n.params.data });
    });
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      toolListChanges++;
    });
    transport = newTransport();
    await client.connect(transport);
    initialSessionId = transport.sessionId!;
  });

  afterAll(async () => {
    await client?.close().catch(() => {});
    await fx?.stop();
  });

  it('initializes a session whose id the client holds sealed: not the upstream’s, and not containing it', () => {
    expect(initialSessionId).toBeTruthy();
    expect(recorder.sessionIds).toHaveLength(1);
    const upstreamId = recorder.sessionIds[0]!;
    expect(upstreamId).toMatch(/^[0-9a-f-]{36}$/);
    expect(initialSessionId).not.toBe(upstreamId);
    expect(initialSessionId).not.toContain(upstreamId);
    expect(initialSessionId).not.toContain(upstreamId.replace(/-/g, ''));
    expect(Buffer.from(initialSessionId, 'base64url').toString('latin1')).not.toContain(upstreamId);
  });

  it('lists the upstream’s tools through the session', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'big',
      'echo',
      'notify_later',
      'slow_progress',
      'whoami',
    ]);
    const upstreamId = recorder.sessionIds[0]!;
    expect(recorder.ofSession(upstreamId).some((c) => c.jsonrpcMethod === 'tools/list')).toBe(true);
  });

  it('calls whoami with the person’s upstream token for route A (its CIMD is the upstream client)', async () => {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    expect(result.structuredContent).toEqual({ sub: LOGIN, client_id: cimd(fx.A) });
  });

  it('forwards progress notifications as they happen, well before the result', async () => {
    const started = Date.now();
    const progress: { at: number; progress: number }[] = [];
    const result = await client.callTool(
      { name: 'slow_progress', arguments: { count: 5, intervalMs: 200 } },
      undefined,
      {
        onprogress: (p) => progress.push({ at: Date.now() - started, progress: p.progress }),
      },
    );
    const done = Date.now() - started;
    expect(result.content).toEqual([{ type: 'text', text: 'done 5' }]);
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3, 4, 5]);
    // The first notification is sent at once upstream; it must not wait for the rest of the stream.
    expect(progress[0]!.at).toBeLessThan(500);
    expect(done - progress[0]!.at).toBeGreaterThanOrEqual(700);
    for (const p of progress) expect(p.at).toBeLessThanOrEqual(done);
    // Evenly spread, as sent (nothing buffered then flushed together).
    expect(progress[4]!.at - progress[0]!.at).toBeGreaterThanOrEqual(600);
  });

  it('delivers a server notification on the session’s GET stream', async () => {
    const upstreamId = recorder.sessionIds[0]!;
    await until(
      () => recorder.ofSession(upstreamId).some((c) => c.method === 'GET' && c.status === undefined),
      5000,
      'the GET stream to reach the upstream',
    );
    const asked = Date.now();
    await client.callTool({
      name: 'notify_later',
      arguments: { delayMs: 300, kind: 'message', text: 'hello later' },
    });
    await until(() => logMessages.some((m) => m.data === 'hello later'), 5000, 'the notification');
    const seen = logMessages.find((m) => m.data === 'hello later')!;
    expect(seen.at - asked).toBeGreaterThanOrEqual(250);
    await client.callTool({ name: 'notify_later', arguments: { delayMs: 50, kind: 'tools_changed' } });
    await until(() => toolListChanges > 0, 5000, 'tools/list_changed');
    // The standalone stream is a GET of this session at the upstream, under the person's token.
    const gets = recorder.ofSession(upstreamId).filter((c) => c.method === 'GET');
    expect(gets.length).toBeGreaterThanOrEqual(1);
    for (const get of gets) expect(get).toMatchObject({ sub: LOGIN, clientId: cimd(fx.A), bearerOk: true });
  });

  it('resumes the GET stream with Last-Event-ID: a notification sent while it was down is replayed', async () => {
    const upstreamId = recorder.sessionIds[0]!;
    const session = recorder.sessions.get(upstreamId)!;
    const getsBefore = recorder.ofSession(upstreamId).filter((c) => c.method === 'GET').length;
    // The upstream ends its standalone stream, then notifies while no stream is open (the event
    // store keeps it); the client reconnects with the last event id it saw, through the proxy.
    session.transport.closeStandaloneSSEStream();
    await session.server.server.sendLoggingMessage({ level: 'info', data: 'sent while away' });
    await until(
      () => logMessages.some((m) => m.data === 'sent while away'),
      5000,
      'the replayed notification',
    );
    const resumed = recorder
      .ofSession(upstreamId)
      .filter((c) => c.method === 'GET')
      .slice(getsBefore);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(resumed[0]!.lastEventId).toMatch(/^\d+$/);
    expect(resumed[0]).toMatchObject({ sub: LOGIN, clientId: cimd(fx.A) });
  });

  it('streams a large result intact', async () => {
    const bytes = 3 * 1024 * 1024 + 7;
    const result = await client.callTool({ name: 'big', arguments: { bytes } });
    const [content] = result.content as { type: string; text: string }[];
    expect(content!.text.length).toBe(bytes);
    expect(/^x+$/.test(content!.text)).toBe(true);
  });

  // Regression: the proxy reused a kept-alive upstream connection just as the upstream closed it
  // for idleness, and answered the client 502 upstream_refused (seen under load as ECONNRESET).
  it('does not fail a call when the upstream closed the idle kept-alive connection it reuses', async () => {
    recorder.idleTimeoutSeconds = 2;
    try {
      await client.callTool({ name: 'echo', arguments: { text: 'before' } });
      await new Promise((resolve) => setTimeout(resolve, 2300));
      const dropped = recorder.dropped;
      // The proxy's pool still holds the connection the upstream now considers closed.
      const result = await client.callTool({ name: 'echo', arguments: { text: 'after idle' } });
      expect(result.content).toEqual([{ type: 'text', text: 'after idle' }]);
      // At most the one attempt on the stale connection failed; the call went through on a new one.
      expect(recorder.dropped - dropped).toBeLessThanOrEqual(1);
    } finally {
      recorder.idleTimeoutSeconds = undefined;
    }
  });

  it('ends the session on DELETE; the same sealed id is then an unknown session (404)', async () => {
    const upstreamId = recorder.sessionIds[0]!;
    const sealed = transport.sessionId!;
    await transport.terminateSession();
    expect(recorder.ofSession(upstreamId).some((c) => c.method === 'DELETE' && c.status === 200)).toBe(true);
    expect(recorder.sessions.has(upstreamId)).toBe(false);

    const stale = newTransport(sealed);
    await stale.start();
    const errors: unknown[] = [];
    stale.onerror = (e) => errors.push(e);
    const request: JSONRPCMessage = { jsonrpc: '2.0', id: 99, method: 'tools/list', params: {} };
    const failure = await stale.send(request).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(StreamableHTTPError);
    expect((failure as StreamableHTTPError).code).toBe(404);
    await stale.close();
    const last = recorder.ofSession(upstreamId).at(-1)!;
    expect(last).toMatchObject({ method: 'POST', jsonrpcMethod: 'tools/list', status: 404 });
  });

  it('sent every upstream call as the person on route A with the upstream’s token, never the gateway’s', () => {
    const gatewayIssuer = decodeJwt(provider.tokens()!.access_token).iss;
    expect(gatewayIssuer).toBe(fx.A);
    // Without a token: only the gateway's discovery of the upstream (RFC 9728) while connecting.
    const probes = recorder.calls.filter((c) => !c.authorization);
    for (const probe of probes) expect(probe).toMatchObject({ bearerOk: false, status: 401 });
    expect(probes.every((p) => p.sessionId === undefined)).toBe(true);
    const calls = recorder.calls.filter((c) => c.authorization);
    expect(calls.length).toBeGreaterThan(5);
    for (const call of calls) {
      expect(call).toMatchObject({
        bearerOk: true,
        bearerIssuer: fx.demo.upstream.issuer,
        sub: LOGIN,
        clientId: cimd(fx.A),
      });
      expect([fx.A, fx.B]).not.toContain(call.bearerIssuer);
    }
    // One session only, and every request that named one named the upstream's own.
    const named = recorder.calls.filter((c) => c.sessionId !== undefined);
    expect(new Set(named.map((c) => c.sessionId))).toEqual(new Set(recorder.sessionIds));
  });
});
