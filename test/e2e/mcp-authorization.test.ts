import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthorizationFixture, startAuthorizationFixture } from '../support/authorization-fixture.ts';
import { caFetch, type HttpBrowser } from '../support/http-browser.ts';
import { expectRefusal } from '../support/refusals.ts';
import { MemoryOAuthProvider } from '../support/sdk-oauth-provider.ts';

/**
 * MCP SDK v1 clients get tokens from a route of the local gateway the way Claude, VS Code or
 * Cursor would: a `401` on the route's MCP endpoint, RFC 9728 → RFC 8414 discovery, then the
 * authorization code flow with PKCE through the gateway's sign-in (demo IdP), its consent page and,
 * the first time, the chained upstream connect — for a CIMD client, a dynamically registered
 * client and a pre-registered one.
 */
describe('MCP clients authorize at a route through the local gateway', () => {
  let fx: AuthorizationFixture;
  let browser: HttpBrowser;
  const LOGIN = 'alice';
  const REDIRECT = 'http://127.0.0.1:7777/callback';
  let cimdClientId: string;

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      config: () => ({
        mcpClients: [
          { clientId: 'acme-desktop', name: 'Acme Desktop', redirectUris: ['http://127.0.0.1/callback'] },
        ],
      }),
    });
    browser = fx.browser();
    cimdClientId = fx.documents.publish('/clients/sdk.json', [REDIRECT]);
  });

  afterAll(async () => {
    await fx?.stop();
  });

  /** Connects an SDK client, walks the authorization it asks for, and finishes it; returns the tokens. */
  async function authorize(provider: MemoryOAuthProvider, consent: 'allow' | 'deny' = 'allow') {
    const transport = new StreamableHTTPClientTransport(new URL(fx.mcp(fx.A)), {
      authProvider: provider,
      fetch: caFetch(browser.agent),
    });
    const client = new Client({ name: 'mcp-edge-test', version: '1.0.0' });
    await expect(client.connect(transport)).rejects.toThrow(/Unauthorized/);
    expect(provider.authorizationUrl, 'the SDK found the authorization endpoint').toBeDefined();
    const callback = await browser.authorize(provider.authorizationUrl!, provider.redirectUrl, LOGIN, {
      consent,
    });
    const code = callback.searchParams.get('code');
    expect(callback.searchParams.get('iss')).toBe(fx.A);
    if (code) await transport.finishAuth(code);
    await transport.close();
    return { tokens: provider.tokens(), callback };
  }

  function expectGatewayToken(token: string, clientId: string) {
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iss: fx.A,
      aud: fx.mcp(fx.A),
      sub: fx.userId(LOGIN),
      client_id: clientId,
      scope: 'mcp',
    });
    expect(typeof claims.jti).toBe('string');
    expect(claims.exp! - claims.iat!).toBe(600);
  }

  it('answers the MCP endpoint without a token with a 401 naming the protected resource metadata', async () => {
    const res = await caFetch(browser.agent)(fx.mcp(fx.A), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expectRefusal(res, 401, 'token_missing');
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${fx.A}/.well-known/oauth-protected-resource/mcp", scope="mcp"`,
    );
    const prm = await (
      await caFetch(browser.agent)(`${fx.A}/.well-known/oauth-protected-resource/mcp`)
    ).json();
    expect(prm).toMatchObject({ resource: fx.mcp(fx.A), authorization_servers: [fx.A] });
  });

  it('gives a CIMD client a route-bound token after sign-in, consent and the chained upstream connect', async () => {
    const provider = new MemoryOAuthProvider({ redirectUrl: REDIRECT, clientMetadataUrl: cimdClientId });
    const { tokens } = await authorize(provider);
    expect(tokens?.token_type).toBe('Bearer');
    expect(tokens?.refresh_token).toBeTruthy();
    expectGatewayToken(tokens!.access_token, cimdClientId);
    // One browser trip: signed in at the IdP, connected at the upstream AS, consent shown once.
    expect(browser.consentPages).toHaveLength(1);
    expect(browser.consentPages[0]).toContain('Test client /clients/sdk.json');
    expect(browser.visited.some((u) => u.origin === fx.demo.upstream.issuer)).toBe(true);
  });

  it('remembers the consent: a second authorization of the same CIMD client goes straight back to it', async () => {
    const provider = new MemoryOAuthProvider({ redirectUrl: REDIRECT, clientMetadataUrl: cimdClientId });
    const before = browser.consentPages.length;
    const { tokens } = await authorize(provider);
    expectGatewayToken(tokens!.access_token, cimdClientId);
    expect(browser.consentPages.length).toBe(before);
  });

  it('fetched the client document once for all those authorizations (cached by its headers)', () => {
    expect(fx.documents.hits.get('/clients/sdk.json')).toBe(1);
  });

  it('gives a dynamically registered client a token, always after the consent page, marked unverified', async () => {
    const provider = new MemoryOAuthProvider({ redirectUrl: REDIRECT, clientName: 'Registered SDK client' });
    const before = browser.consentPages.length;
    const { tokens } = await authorize(provider);
    const registered = provider.clientInformation()!.client_id;
    expect(registered).toMatch(/^mcp-edge-dcr-/);
    expectGatewayToken(tokens!.access_token, registered);
    expect(browser.consentPages.length).toBe(before + 1);
    expect(browser.consentPages.at(-1)).toContain('unverified');
  });

  it('gives a pre-registered mcpClients entry a token, its loopback redirect matching on any port', async () => {
    const provider = new MemoryOAuthProvider({
      redirectUrl: 'http://127.0.0.1:53682/callback',
      clientId: 'acme-desktop',
    });
    const { tokens } = await authorize(provider);
    expectGatewayToken(tokens!.access_token, 'acme-desktop');
  });

  it('accepts the token it issued at the MCP endpoint (forwarding is the proxy’s next step)', async () => {
    const provider = new MemoryOAuthProvider({ redirectUrl: REDIRECT, clientMetadataUrl: cimdClientId });
    const { tokens } = await authorize(provider);
    const res = await caFetch(browser.agent)(fx.mcp(fx.A), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tokens!.access_token}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(200);
    // Route B is another resource: the same token is refused there.
    const other = await caFetch(browser.agent)(fx.mcp(fx.B), {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens!.access_token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expectRefusal(other, 401, 'token_invalid');
    expect(other.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('lists the authorized clients on the connections page, and Revoke ends their refresh tokens', async () => {
    const provider = new MemoryOAuthProvider({ redirectUrl: REDIRECT, clientMetadataUrl: cimdClientId });
    const { tokens } = await authorize(provider);
    const list = await browser.request(new URL(`${fx.A}/.pomerium/connections`), {
      accept: 'application/json',
    });
    const body = JSON.parse(list.body) as { clients: { clientId: string }[] };
    expect(body.clients.map((c) => c.clientId)).toEqual(
      expect.arrayContaining([cimdClientId, 'acme-desktop', provider.clientInformation()!.client_id]),
    );
    const page = await browser.request(new URL(`${fx.A}/.pomerium/connections`));
    const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)![1]!;
    const revoked = await browser.request(new URL(`${fx.A}/.pomerium/disconnect`), {
      method: 'POST',
      body: new URLSearchParams({ csrf, client_id: cimdClientId }),
      headers: { origin: fx.A },
    });
    expect(revoked.status).toBe(303);
    const refresh = await caFetch(browser.agent)(`${fx.A}/.pomerium/mcp/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: tokens!.refresh_token!,
        client_id: cimdClientId,
      }),
    });
    expectRefusal(refresh, 400, 'refresh_token_invalid');
    expect(((await refresh.json()) as { error: string }).error).toBe('invalid_grant');
  });
});
