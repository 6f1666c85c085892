import { generateKeyPairSync } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintAccessToken } from '../../functions/core/authorization/access-token.ts';
import { userDigest } from '../../functions/core/proxy/connect-required.ts';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { type GatewayTokens, gatewayTokens, TEST_CLIENT } from '../support/gateway-tokens.ts';
import { caFetch, type HttpBrowser } from '../support/http-browser.ts';
import { expectRefusal } from '../support/refusals.ts';
import { observeTable } from '../support/table-observer.ts';
import { SessionRecorder, sessionUpstream } from '../support/upstreams/session-upstream.ts';

/** Runs `task` over `items`, at most `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Resolves when `check` holds, polling; fails after `timeoutMs`. */
async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

interface Person {
  readonly login: string;
  readonly browser: HttpBrowser;
  /** The gateway's tokens for this person, by route origin. */
  readonly tokens: Map<string, GatewayTokens>;
}

interface Connected {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
}

/**
 * The proxy keeps people, routes and sessions apart, and stops serving people who disconnected or
 * revoked, on a 2025-11-25 session-keeping upstream behind two routes of the local gateway. The
 * gateway's clock is injected so the proxy's once-a-minute checks can be passed without waiting.
 */
describe('the MCP proxy isolates people, routes and sessions', () => {
  const recorder = new SessionRecorder();
  /** Added to the gateway's clock (the proxy re-checks grants and upstream tokens once a minute). */
  let skew = 0;
  const clock = { now: () => Date.now() + skew };
  let fx: AuthorizationFixture;
  const people = new Map<string, Person>();
  const open: Connected[] = [];
  let tableCalls: string[] = [];
  const cimd = (origin: string) => `${origin}/.well-known/mcp-client-metadata.json`;
  /** The 20 people of the concurrency test; the other tests borrow some of them (fewer sign-ins). */
  const LOGINS = Array.from({ length: 20 }, (_, i) => `p${String(i + 1).padStart(2, '0')}`);
  const [ALICE, BOB, DORA, ERIN, FAY, GUS] = LOGINS as [string, string, string, string, string, string];

  /** A person signed in with their own browser, with gateway tokens for the given routes. */
  async function person(login: string, routes: string[] = [fx.A]): Promise<Person> {
    let p = people.get(login);
    if (!p) {
      p = { login, browser: fx.browser(), tokens: new Map() };
      people.set(login, p);
    }
    for (const route of routes) {
      if (!p.tokens.has(route)) p.tokens.set(route, await gatewayTokens(p.browser, route, login));
    }
    return p;
  }

  const token = (p: Person, route: string) => p.tokens.get(route)!.access_token;

  /** An MCP SDK v1 client on `route` with the person's gateway token (declaring URL elicitation or not). */
  async function connect(
    p: Person,
    route: string,
    options: { elicitation?: boolean } = {},
  ): Promise<Connected> {
    const transport = new StreamableHTTPClientTransport(new URL(fx.mcp(route)), {
      fetch: caFetch(p.browser.agent),
      requestInit: { headers: { authorization: `Bearer ${token(p, route)}` } },
      reconnectionOptions: {
        initialReconnectionDelay: 200,
        maxReconnectionDelay: 500,
        reconnectionDelayGrowFactor: 1.5,
        maxRetries: 1,
      },
    });
    const client = new Client(
      { name: `isolation-${p.login}`, version: '1.0.0' },
      options.elicitation ? { capabilities: { elicitation: { url: {} } } } : {},
    );
    await client.connect(transport);
    // The SDK opens the session's GET stream in the background: let it reach the upstream first,
    // so later counts of upstream requests are not disturbed by it.
    const session = upstreamSessionOf(p.login, route);
    await until(
      () => recorder.calls.some((c) => c.method === 'GET' && c.sessionId === session),
      10_000,
      'the GET stream',
    );
    const connected = { client, transport };
    open.push(connected);
    return connected;
  }

  /** A raw JSON-RPC POST to a route's MCP endpoint. */
  async function post(
    p: Person,
    route: string,
    bearer: string,
    body: unknown,
    headers: Record<string, string> = {},
    method = 'POST',
  ): Promise<Response> {
    return caFetch(p.browser.agent)(fx.mcp(route), {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2025-11-25',
        ...headers,
      },
      ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
    });
  }

  const whoamiCall = (id: number) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'whoami', arguments: {} },
  });

  /** The routes a person has an upstream connection for (the vault, read directly). */
  async function connectedRoutes(login: string): Promise<string[]> {
    return (await fx.gateway.services.vault.list(fx.userId(login))).map((c) => c.route);
  }

  /** The upstream session the last `initialize` of (person, route) created. */
  function upstreamSessionOf(login: string, route: string): string {
    const init = recorder.calls.filter(
      (c) => c.jsonrpcMethod === 'initialize' && c.sub === login && c.clientId === cimd(route) && c.sessionId,
    );
    return init.at(-1)!.sessionId!;
  }

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      clock,
      upstreamMcp: sessionUpstream(recorder),
      config: () => ({ mcpClients: [{ ...TEST_CLIENT, redirectUris: [...TEST_CLIENT.redirectUris] }] }),
    });
    // Every DynamoDB call of every gateway function: the proxy's own signed-fetch table client, and
    // the AWS SDK client the other functions share (its middleware).
    observeTable(fx.gateway.proxyTable, (operation) => tableCalls.push(operation));
    fx.gateway.dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        tableCalls.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countTableCalls' },
    );
    // Twenty people, each signed in with their own browser and holding a gateway token for both
    // routes (so each has an upstream connection per route). The other tests borrow some of them.
    const started = Date.now();
    await mapLimit(LOGINS, 4, (login) => person(login, [fx.A, fx.B]));
    console.info(`20 people signed in on 2 routes: ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await Promise.all(open.map((c) => c.client.close().catch(() => {})));
    await fx?.stop();
  });

  describe('sessions', () => {
    it('answers person B presenting person A’s session id with 404, and the upstream sees nothing of it', async () => {
      const alice = await person(ALICE, [fx.A, fx.B]);
      const bob = await person(BOB, [fx.A]);
      const { transport, client } = await connect(alice, fx.A);
      const sealed = transport.sessionId!;
      const upstream = upstreamSessionOf(ALICE, fx.A);
      const before = recorder.calls.length;

      const asBob = await post(bob, fx.A, token(bob, fx.A), whoamiCall(7), { 'mcp-session-id': sealed });
      expectRefusal(asBob, 404, 'session_unknown');
      expect(await asBob.json()).toMatchObject({
        jsonrpc: '2.0',
        id: 7,
        error: { code: -32001, data: { error: 'session_unknown' } },
      });
      for (const method of ['GET', 'DELETE']) {
        const res = await post(bob, fx.A, token(bob, fx.A), undefined, { 'mcp-session-id': sealed }, method);
        expectRefusal(res, 404, 'session_unknown');
        await res.body?.cancel();
      }
      expect(recorder.calls.length).toBe(before);
      expect(recorder.calls.filter((c) => c.sub === BOB)).toEqual([]);
      // Alice's session is untouched.
      expect(recorder.sessions.has(upstream)).toBe(true);
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(result.structuredContent).toEqual({ sub: ALICE, client_id: cimd(fx.A) });
      expect(recorder.ofSession(upstream).every((c) => c.sub === ALICE && c.clientId === cimd(fx.A))).toBe(
        true,
      );
    });

    it('answers a session id of route A presented on route B (same person, B’s token) with 404', async () => {
      const alice = await person(ALICE, [fx.A, fx.B]);
      const { transport } = await connect(alice, fx.A);
      const upstream = upstreamSessionOf(ALICE, fx.A);
      const before = recorder.calls.length;
      const res = await post(alice, fx.B, token(alice, fx.B), whoamiCall(8), {
        'mcp-session-id': transport.sessionId!,
      });
      expectRefusal(res, 404, 'session_unknown');
      expect(await res.json()).toMatchObject({ id: 8, error: { code: -32001 } });
      expect(recorder.calls.length).toBe(before);
      expect(recorder.ofSession(upstream).every((c) => c.clientId === cimd(fx.A))).toBe(true);
    });

    it('answers a forged session id with 404 before anything goes upstream', async () => {
      const alice = await person(ALICE, [fx.A]);
      const before = recorder.calls.length;
      const forged = Buffer.from(upstreamSessionOf(ALICE, fx.A)).toString('base64url');
      for (const id of [upstreamSessionOf(ALICE, fx.A), forged, 'x'.repeat(5000)]) {
        const res = await post(alice, fx.A, token(alice, fx.A), whoamiCall(9), { 'mcp-session-id': id });
        expectRefusal(res, 404, 'session_unknown');
        await res.body?.cancel();
      }
      expect(recorder.calls.length).toBe(before);
    });
  });

  describe('tokens', () => {
    it('refuses a token of route A on route B: 401 invalid_token naming route B’s metadata', async () => {
      const alice = await person(ALICE, [fx.A]);
      const res = await post(alice, fx.B, token(alice, fx.A), whoamiCall(1));
      expectRefusal(res, 401, 'token_invalid');
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge).toContain('error="invalid_token"');
      expect(challenge).toContain(`resource_metadata="${fx.B}/.well-known/oauth-protected-resource/mcp"`);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    });

    it('refuses forged, tampered, unsigned and expired tokens with 401 invalid_token', async () => {
      const alice = await person(ALICE, [fx.A]);
      const real = token(alice, fx.A);
      const claims = decodeJwt(real);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const forged = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
        .sign(privateKey);
      const [header, , signature] = real.split('.');
      const tampered = `${header}.${Buffer.from(JSON.stringify({ ...claims, sub: fx.userId(BOB) })).toString('base64url')}.${signature}`;
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${real.split('.')[1]}.`;
      const route = fx.gateway.routes.find((r) => r.origin === fx.A)!;
      const expired = (
        await mintAccessToken(fx.gateway.services.authorization!.signer, {
          route,
          subject: String(claims.sub),
          clientId: String(claims.client_id),
          scope: String(claims.scope),
          grantId: String(claims.sid),
          ttlSeconds: 60,
          now: clock.now() - 3_600_000,
        })
      ).token;
      const before = recorder.calls.length;
      for (const [name, bad] of Object.entries({ forged, tampered, unsigned, expired })) {
        const res = await post(alice, fx.A, bad, whoamiCall(2));
        expectRefusal(res, 401, 'token_invalid');
        expect(res.headers.get('www-authenticate'), name).toContain('error="invalid_token"');
        await res.body?.cancel();
      }
      expect(recorder.calls.length).toBe(before);
    });
  });

  it('serves 200 concurrent calls from 20 people on 2 routes, each with its own person and route upstream', async () => {
    const phase = Date.now();
    const pairs = LOGINS.map((login) => people.get(login)!).flatMap((p) =>
      [fx.A, fx.B].map((route) => ({ p, route })),
    );
    const clients = await mapLimit(pairs, 40, async ({ p, route }) => ({
      p,
      route,
      ...(await connect(p, route)),
    }));
    const connects = Date.now() - phase;
    const before = recorder.calls.length;

    const started = Date.now();
    const answers = await Promise.all(
      clients.flatMap(({ p, route, client }) =>
        Array.from({ length: 5 }, async () => ({
          login: p.login,
          route,
          result: await client.callTool({ name: 'whoami', arguments: {} }),
        })),
      ),
    );
    const elapsed = Date.now() - started;

    expect(answers).toHaveLength(200);
    for (const { login, route, result } of answers) {
      expect(result.structuredContent).toEqual({ sub: login, client_id: cimd(route) });
    }
    // At the upstream: 200 calls, 5 per (person, route), each on a session that person opened on that route.
    const owner = new Map(
      recorder.calls
        .filter((c) => c.jsonrpcMethod === 'initialize' && c.sessionId)
        .map((c) => [c.sessionId!, { sub: c.sub, clientId: c.clientId }]),
    );
    const calls = recorder.calls.slice(before).filter((c) => c.tool === 'whoami');
    expect(calls).toHaveLength(200);
    const perCaller = new Map<string, number>();
    for (const call of calls) {
      expect(call.bearerOk).toBe(true);
      expect(call.bearerIssuer).toBe(fx.demo.upstream.issuer);
      expect(owner.get(call.sessionId!)).toEqual({ sub: call.sub, clientId: call.clientId });
      const key = `${call.sub} ${call.clientId}`;
      perCaller.set(key, (perCaller.get(key) ?? 0) + 1);
    }
    expect(perCaller.size).toBe(40);
    for (const login of LOGINS) {
      for (const route of [fx.A, fx.B]) expect(perCaller.get(`${login} ${cimd(route)}`)).toBe(5);
    }
    console.info(`20 people on 2 routes: 40 sessions ${connects} ms, 200 concurrent calls ${elapsed} ms`);
    await Promise.all(clients.map(({ client }) => client.close()));
  });

  it('makes no DynamoDB call on warm calls', async () => {
    const alice = await person(ALICE, [fx.A]);
    const { client } = await connect(alice, fx.A);
    await client.callTool({ name: 'whoami', arguments: {} });
    tableCalls = [];
    for (let i = 0; i < 20; i++) {
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(result.structuredContent).toEqual({ sub: ALICE, client_id: cimd(fx.A) });
    }
    expect(tableCalls).toEqual([]);
    // The counter does see the proxy's table calls: a minute later it checks the grant and the vault again.
    skew += 61_000;
    await client.callTool({ name: 'whoami', arguments: {} });
    expect(tableCalls.length).toBeGreaterThan(0);
  });

  describe('a person who disconnected the route', () => {
    let dora: Person;
    let erin: Person;
    let elicits: Connected;
    let plain: Connected;
    let connectUrl: string;

    beforeAll(async () => {
      dora = await person(DORA, [fx.A]);
      erin = await person(ERIN, [fx.A]);
      elicits = await connect(dora, fx.A, { elicitation: true });
      plain = await connect(dora, fx.A);
      for (const { client } of [elicits, plain]) {
        expect((await client.callTool({ name: 'whoami', arguments: {} })).structuredContent).toMatchObject({
          sub: DORA,
        });
      }
      // Disconnect on the connections page, as the person would.
      const page = await dora.browser.request(new URL(`${fx.A}/.pomerium/connections`));
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
      const disconnected = await dora.browser.request(new URL(`${fx.A}/.pomerium/disconnect`), {
        method: 'POST',
        body: new URLSearchParams({ csrf }),
        headers: { origin: fx.A },
      });
      expect(disconnected.status).toBe(303);
      expect(await connectedRoutes(DORA)).not.toContain(fx.A);
      // The proxy re-reads the vault at most once a minute per (route, person): move past that.
      skew += 61_000;
    });

    it('gives a 2025-11-25 client that declared URL elicitation a -32042 with the route’s connect link', async () => {
      const before = recorder.calls.length;
      const failure = await elicits.client.callTool({ name: 'whoami', arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(UrlElicitationRequiredError);
      const error = failure as UrlElicitationRequiredError;
      expect(error.code).toBe(ErrorCode.UrlElicitationRequired);
      expect(error.code).toBe(-32042);
      expect(error.elicitations).toHaveLength(1);
      const [elicitation] = error.elicitations;
      expect(elicitation).toMatchObject({
        mode: 'url',
        elicitationId: expect.any(String),
        message: expect.any(String),
      });
      const url = new URL(elicitation!.url);
      expect(`${url.origin}${url.pathname}`).toBe(`${fx.A}/.pomerium/connect`);
      expect(url.searchParams.get('for')).toBe(userDigest(fx.userId(DORA)));
      expect(url.searchParams.get('return_to')).toBe('/.pomerium/connections');
      connectUrl = elicitation!.url;
      expect(recorder.calls.length).toBe(before);
    });

    it('gives a client that did not declare it 401 invalid_token', async () => {
      const failure = await plain.client.callTool({ name: 'whoami', arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(failure).toBeInstanceOf(StreamableHTTPError);
      expect((failure as StreamableHTTPError).code).toBe(401);
      const res = await post(dora, fx.A, token(dora, fx.A), whoamiCall(3), {
        'mcp-session-id': plain.transport.sessionId!,
      });
      expectRefusal(res, 401, 'connect_required');
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(res.headers.get('www-authenticate')).toContain(
        `resource_metadata="${fx.A}/.well-known/oauth-protected-resource/mcp"`,
      );
      expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    });

    it('refuses the connect link to another signed-in person (403 other_user)', async () => {
      expect(connectUrl).toBeDefined();
      const res = await erin.browser.request(new URL(connectUrl));
      expectRefusal(res, 403, 'other_user');
      expect(res.headers.get('location')).toBeNull();
    });

    it('trusts its own signed link from any site or app, and asks first when the link was altered', async () => {
      for (const site of ['cross-site', 'none']) {
        const own = await dora.browser.request(new URL(connectUrl), { headers: { 'sec-fetch-site': site } });
        expect(own.status).toBe(303);
        expect(own.headers.get('location')?.startsWith(fx.demo.upstream.issuer)).toBe(true);
      }
      const altered = new URL(connectUrl);
      altered.searchParams.set('scope', 'admin');
      const asked = await dora.browser.request(altered, { headers: { 'sec-fetch-site': 'none' } });
      expect(asked.status).toBe(200);
      expect(asked.headers.get('location')).toBeNull();
      expect(asked.body).toContain('<code>admin</code>');
    });

    it('connects the route again through the link for the right person; then the same call succeeds', async () => {
      const end = await dora.browser.follow(
        new URL(connectUrl),
        DORA,
        (u) => u.origin === fx.A && u.pathname === '/.pomerium/connections',
      );
      expect(end.status, end.html?.slice(0, 300)).toBeUndefined();
      expect(dora.browser.visited.some((u) => u.origin === fx.demo.upstream.issuer)).toBe(true);
      expect(await connectedRoutes(DORA)).toContain(fx.A);
      const result = await elicits.client.callTool({ name: 'whoami', arguments: {} });
      expect(result.structuredContent).toEqual({ sub: DORA, client_id: cimd(fx.A) });
    });
  });

  describe('a revoked grant', () => {
    async function callStatus(p: Person, route: string, connected: Connected): Promise<number> {
      const res = await post(p, route, token(p, route), whoamiCall(4), {
        'mcp-session-id': connected.transport.sessionId!,
      });
      await res.body?.cancel();
      return res.status;
    }

    it('stops working within a minute after the client revokes its refresh token (RFC 7009)', async () => {
      const fay = await person(FAY, [fx.A]);
      const connected = await connect(fay, fx.A);
      expect(await callStatus(fay, fx.A, connected)).toBe(200);
      const revoked = await caFetch(fay.browser.agent)(`${fx.A}/.pomerium/mcp/revoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          token: fay.tokens.get(fx.A)!.refresh_token!,
          client_id: TEST_CLIENT.clientId,
        }),
      });
      expect(revoked.status).toBe(200);
      // The proxy checks a grant at most once a minute per instance: it may still serve it now.
      expect([200, 401]).toContain(await callStatus(fay, fx.A, connected));
      skew += 61_000;
      const res = await post(fay, fx.A, token(fay, fx.A), whoamiCall(5), {
        'mcp-session-id': connected.transport.sessionId!,
      });
      expectRefusal(res, 401, 'grant_revoked');
      expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
      await res.body?.cancel();
    });

    it('stops working within a minute after Revoke on the connections page', async () => {
      const gus = await person(GUS, [fx.B]);
      const connected = await connect(gus, fx.B);
      expect(await callStatus(gus, fx.B, connected)).toBe(200);
      const page = await gus.browser.request(new URL(`${fx.B}/.pomerium/connections`));
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
      const revoked = await gus.browser.request(new URL(`${fx.B}/.pomerium/disconnect`), {
        method: 'POST',
        body: new URLSearchParams({ csrf, client_id: TEST_CLIENT.clientId }),
        headers: { origin: fx.B },
      });
      expect(revoked.status).toBe(303);
      expect([200, 401]).toContain(await callStatus(gus, fx.B, connected));
      skew += 61_000;
      const res = await post(gus, fx.B, token(gus, fx.B), whoamiCall(6), {
        'mcp-session-id': connected.transport.sessionId!,
      });
      expectRefusal(res, 401, 'grant_revoked');
      await res.body?.cancel();
      // The person's upstream connection is not what was revoked: only this client's grant.
      expect(await connectedRoutes(GUS)).toContain(fx.B);
    });
  });

  it('never sent the upstream a gateway token', () => {
    const gateway = [fx.A, fx.B];
    const withToken = recorder.calls.filter((c) => c.authorization);
    expect(withToken.length).toBeGreaterThan(200);
    for (const call of withToken) {
      expect(gateway).not.toContain(call.bearerIssuer);
      expect(call.bearerIssuer).toBe(fx.demo.upstream.issuer);
      expect(call.bearerOk).toBe(true);
    }
  });
});
