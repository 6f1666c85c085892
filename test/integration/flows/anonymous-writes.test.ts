import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { type AuthorizationFixture, startAuthorizationFixture } from '../../support/authorization-fixture.ts';
import { type HttpBrowser, pkcePair } from '../../support/http-browser.ts';

/** DynamoDB operations that change the table. */
const WRITES = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

/**
 * Anonymous entry points cost no table write before the person proves something (issue 9 item 3):
 * starting a sign-in (its transaction is a sealed cookie), an MCP client's authorization request
 * before sign-in, and the refusals around them. Every request the gateway's functions send to
 * DynamoDB Local is counted on the client they share (the DocumentClient sends through its stack).
 */
describe('anonymous requests write nothing to the table', () => {
  let fx: AuthorizationFixture;
  const sent: string[] = [];
  const writes = () => sent.filter((name) => WRITES.has(name));
  const REDIRECT = 'http://127.0.0.1:7777/callback';
  let cimdClientId: string;
  let registeredClientId: string;

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      config: () => ({
        mcpClients: [{ clientId: 'acme-desktop', name: 'Acme Desktop', redirectUris: [REDIRECT] }],
      }),
    });
    cimdClientId = fx.documents.publish('/clients/anonymous.json', [REDIRECT]);
    // A dynamic registration is a write by design (RFC 7591): made before the counting starts.
    const registration = await fx.browser().request(new URL(`${fx.A}/.pomerium/mcp/register`), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: 'Registered', redirect_uris: [REDIRECT] }) as never,
    });
    expect(registration.status).toBe(201);
    registeredClientId = JSON.parse(registration.body).client_id;
    fx.gateway.dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        sent.push(context.commandName ?? 'unknown');
        return next(args);
      },
      { step: 'initialize', name: 'countTableRequests' },
    );
  });

  afterAll(async () => {
    await fx?.stop();
  });

  const N = 25;

  function authorizeUrl(clientId: string): URL {
    const url = new URL(`${fx.A}/.pomerium/mcp/authorize`);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      state: randomToken(),
      resource: fx.mcp(fx.A),
    }).toString();
    return url;
  }

  /** A request from a browser that has never been here (no cookies), like a crawler or a flood. */
  function anonymous(url: URL, init: Parameters<HttpBrowser['request']>[1] = {}) {
    return fx.browser().request(url, init);
  }

  it(`starts ${N} sign-ins without a write, each with its transaction in a cookie`, async () => {
    sent.length = 0;
    for (let i = 0; i < N; i++) {
      const res = await anonymous(new URL(`${fx.A}/.pomerium/login?return_to=%2F.pomerium%2Fconnections`));
      expect(res.status).toBe(303);
      expect(new URL(res.headers.get('location')!).origin).toBe(fx.demo.identityProvider.issuer);
      expect(res.headers.getSetCookie().some((c) => c.startsWith('__Host-mcp-edge-login-'))).toBe(true);
    }
    expect(writes()).toEqual([]);
    // Not even a read: nothing about an anonymous sign-in start is in the table.
    expect(sent).toEqual([]);
  });

  it(`answers ${N * 3} anonymous authorization requests (pre-registered, CIMD, registered clients) and their sign-in starts without a write`, async () => {
    sent.length = 0;
    for (let i = 0; i < N; i++) {
      for (const clientId of ['acme-desktop', cimdClientId, registeredClientId]) {
        const browser = fx.browser();
        const res = await browser.request(authorizeUrl(clientId));
        expect(res.status).toBe(303);
        const login = new URL(res.headers.get('location')!);
        expect(login.pathname).toBe('/.pomerium/login');
        const started = await browser.request(login);
        expect(started.status).toBe(303);
        expect(new URL(started.headers.get('location')!).origin).toBe(fx.demo.identityProvider.issuer);
      }
    }
    expect(writes()).toEqual([]);
    // What it does read: the dynamically registered client, once per request.
    expect(new Set(sent)).toEqual(new Set(['GetItemCommand']));
    expect(sent).toHaveLength(N);
  });

  it('writes nothing for anonymous refusals: a consent form, a forged callback, a sign-out, connect, connections', async () => {
    sent.length = 0;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    for (let i = 0; i < N; i++) {
      const consent = await anonymous(new URL(`${fx.A}/.pomerium/mcp/authorize`), {
        method: 'POST',
        headers: form,
        body: new URLSearchParams({ client_id: 'acme-desktop', decision: 'allow', csrf: 'x' }),
      });
      expect(consent.status).toBe(401);
      const callback = await anonymous(
        new URL(`${fx.A}/.pomerium/login/callback?code=${randomToken()}&state=${randomToken()}`),
      );
      expect(callback.status).toBe(400);
      const signOut = await anonymous(new URL(`${fx.A}/.pomerium/logout`), {
        method: 'POST',
        headers: form,
        body: new URLSearchParams({ everywhere: '1' }),
      });
      expect(signOut.status).toBe(200);
      expect((await anonymous(new URL(`${fx.A}/.pomerium/logout`))).status).toBe(200);
      expect((await anonymous(new URL(`${fx.A}/.pomerium/connect`))).status).toBe(303);
      expect((await anonymous(new URL(`${fx.A}/.pomerium/connections`))).status).toBe(303);
    }
    expect(writes()).toEqual([]);
  });

  it('does count: a completed sign-in writes its session and the session’s index entry', async () => {
    sent.length = 0;
    const browser = fx.browser();
    const end = await browser.follow(
      new URL(`${fx.A}/.pomerium/login`),
      'alice',
      (url) => url.pathname === '/.pomerium/login/callback',
    );
    expect((await browser.request(end.url)).status).toBe(303);
    expect(writes()).toEqual(['PutItemCommand', 'PutItemCommand']);
  });
});
