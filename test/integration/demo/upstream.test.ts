import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as jose from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { type DemoUpstream, startDemoUpstream } from '../../../functions/local/demo/upstream.ts';
import { type DevCertificate, ensureDevCertificate } from '../../../functions/local/tls.ts';
import { caFetch, HttpBrowser, pkcePair } from '../../support/http-browser.ts';
import { type CimdHost, startCimdHost } from './cimd-host.ts';

const ACCESS_TOKEN_TTL = 120;

let dir: string;
let consoleSpies: MockInstance[];
let cert: DevCertificate;
let upstream: DemoUpstream;
let cimd: CimdHost;
let agent: Agent;
let metadata: Record<string, unknown>;

beforeAll(async () => {
  consoleSpies = [vi.spyOn(console, 'warn'), vi.spyOn(console, 'info')];
  dir = await mkdtemp(join(tmpdir(), 'mcp-edge-demo-'));
  cert = await ensureDevCertificate(dir);
  agent = new Agent({ connect: { ca: cert.ca } });
  [upstream, cimd] = await Promise.all([
    startDemoUpstream({ port: 0, asPort: 0, tls: cert, ca: cert.ca, accessTokenTtl: ACCESS_TOKEN_TTL }),
    startCimdHost(cert),
  ]);
  metadata = (await get(`${upstream.issuer}/.well-known/oauth-authorization-server`)).body;
});

afterAll(async () => {
  for (const spy of consoleSpies ?? []) spy.mockRestore();
  await Promise.all([upstream?.stop(), cimd?.stop()]);
  await agent?.close();
  await rm(dir, { recursive: true, force: true });
});

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await undiciFetch(url, { headers, dispatcher: agent });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
  };
}

async function token(params: Record<string, string>) {
  const res = await undiciFetch(String(metadata.token_endpoint), {
    method: 'POST',
    body: new URLSearchParams(params),
    dispatcher: agent,
  });
  return { status: res.status, body: (await res.json()) as Record<string, string | number> };
}

/** Walks the authorization code flow in a fresh browser as `login`; returns the callback and verifier. */
async function authorize(login: string, extra: Record<string, string> = {}) {
  const browser = new HttpBrowser(cert.ca);
  try {
    const { verifier, challenge } = pkcePair();
    const state = randomBytes(16).toString('base64url');
    const url = new URL(String(metadata.authorization_endpoint));
    url.search = new URLSearchParams({
      client_id: cimd.clientId,
      response_type: 'code',
      redirect_uri: cimd.redirectUri,
      scope: 'mcp:tools',
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      resource: upstream.mcpUrl,
      ...extra,
    }).toString();
    const callback = await browser.authorize(url, cimd.redirectUri, login);
    return { callback, verifier, state, prompts: browser.prompts };
  } finally {
    await browser.close();
  }
}

async function signIn(login: string) {
  const { callback, verifier } = await authorize(login);
  const answer = await token({
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: cimd.redirectUri,
    code_verifier: verifier,
    client_id: cimd.clientId,
  });
  expect(answer.status).toBe(200);
  return answer.body as { access_token: string; refresh_token: string; expires_in: number; scope: string };
}

async function connect(accessToken?: string) {
  const client = new Client({ name: 'mcp-edge-demo-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(upstream.mcpUrl), {
    fetch: caFetch(agent),
    requestInit: accessToken ? { headers: { authorization: `Bearer ${accessToken}` } } : undefined,
  });
  await client.connect(transport);
  return client;
}

/** An MCP SDK client's OAuth side with a CIMD client ID, keeping everything in memory. */
class CimdClientProvider implements OAuthClientProvider {
  authorizationUrl?: URL;
  private information?: Awaited<ReturnType<OAuthClientProvider['clientInformation']>>;
  private saved?: Awaited<ReturnType<OAuthClientProvider['tokens']>>;
  private verifier = '';

  constructor(
    readonly clientMetadataUrl: string,
    private readonly redirectUri: string,
  ) {}
  get redirectUrl() {
    return this.redirectUri;
  }
  get clientMetadata() {
    return {
      client_name: 'Demo tools via MCP Edge',
      redirect_uris: [this.redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.information;
  }
  saveClientInformation(information: typeof this.information) {
    this.information = information;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: typeof this.saved) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

describe('demo upstream MCP server', () => {
  it('serves its protected resource metadata at the path-specific and the root location', async () => {
    const expected = {
      resource: upstream.mcpUrl,
      authorization_servers: [upstream.issuer],
      scopes_supported: ['mcp:tools'],
      bearer_methods_supported: ['header'],
    };
    const origin = new URL(upstream.mcpUrl).origin;
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const answer = await get(`${origin}${path}`);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject(expected);
    }
  });

  it('answers a request without a token with 401 and a challenge naming the metadata and scope', async () => {
    const res = await undiciFetch(upstream.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      dispatcher: agent,
    });
    await res.body?.cancel();
    expect(res.status).toBe(401);
    const origin = new URL(upstream.mcpUrl).origin;
    expect(res.headers.get('www-authenticate')).toBe(
      `Bearer resource_metadata="${origin}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`,
    );
  });

  it('answers a token it did not issue with 401 invalid_token', async () => {
    const { privateKey } = await jose.generateKeyPair('ES256');
    const forged = await new jose.SignJWT({ client_id: 'x', scope: 'mcp:tools' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
      .setIssuer(upstream.issuer)
      .setAudience(upstream.mcpUrl)
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(privateKey);
    const answer = await get(upstream.mcpUrl, { authorization: `Bearer ${forged}` });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });

  it('refuses an MCP SDK client without a token with 401', async () => {
    const error = await connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect((error as StreamableHTTPError).code).toBe(401);
  });
});

describe('demo upstream authorization server', () => {
  it('advertises CIMD client IDs, PKCE S256, the iss response parameter and revocation', () => {
    expect(metadata).toMatchObject({
      issuer: upstream.issuer,
      client_id_metadata_document_supported: true,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
    });
    expect(metadata.revocation_endpoint).toEqual(expect.any(String));
    expect(metadata.scopes_supported).toContain('mcp:tools');
  });

  it('signs a CIMD client in after login and consent; the MCP server accepts its token', async () => {
    const before = upstream.tokenRequests();
    const { callback, verifier, state, prompts } = await authorize('alice');
    expect(prompts).toEqual(['login', 'consent']);
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(upstream.issuer);
    expect(upstream.fetchedCimds).toContain(cimd.clientId);

    const answer = await token({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: cimd.redirectUri,
      code_verifier: verifier,
      client_id: cimd.clientId,
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_TTL,
      scope: 'mcp:tools',
    });
    expect(answer.body.refresh_token).toEqual(expect.any(String));
    expect(upstream.tokenRequests()).toBe(before + 1);
    expect(jose.decodeJwt(String(answer.body.access_token))).toMatchObject({
      iss: upstream.issuer,
      aud: upstream.mcpUrl,
      sub: 'alice',
      client_id: cimd.clientId,
    });

    const client = await connect(String(answer.body.access_token));
    try {
      const whoami = await client.callTool({ name: 'whoami' });
      expect(whoami.structuredContent).toEqual({
        sub: 'alice',
        client_id: cimd.clientId,
        scope: 'mcp:tools',
      });
      const echo = await client.callTool({ name: 'echo', arguments: { text: 'hello' } });
      expect(echo.content).toEqual([{ type: 'text', text: 'hello' }]);
    } finally {
      await client.close();
    }
  });

  it('refuses a code redeemed without the PKCE verifier', async () => {
    const { callback } = await authorize('bob');
    const answer = await token({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: cimd.redirectUri,
      client_id: cimd.clientId,
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBe('invalid_grant');
  });

  it('rotates the refresh token on use and refuses the used one', async () => {
    const first = await signIn('carol');
    const refreshed = await token({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      client_id: cimd.clientId,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.refresh_token).toEqual(expect.any(String));
    expect(refreshed.body.refresh_token).not.toBe(first.refresh_token);
    expect(jose.decodeJwt(String(refreshed.body.access_token))).toMatchObject({
      aud: upstream.mcpUrl,
      sub: 'carol',
      client_id: cimd.clientId,
    });
    const client = await connect(String(refreshed.body.access_token));
    await client.close();

    const replay = await token({
      grant_type: 'refresh_token',
      refresh_token: first.refresh_token,
      client_id: cimd.clientId,
    });
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_grant');
  });

  it('revokes a refresh token', async () => {
    const tokens = await signIn('dave');
    const res = await undiciFetch(String(metadata.revocation_endpoint), {
      method: 'POST',
      body: new URLSearchParams({
        token: tokens.refresh_token,
        token_type_hint: 'refresh_token',
        client_id: cimd.clientId,
      }),
      dispatcher: agent,
    });
    await res.body?.cancel();
    expect(res.status).toBe(200);
    const after = await token({
      grant_type: 'refresh_token',
      refresh_token: tokens.refresh_token,
      client_id: cimd.clientId,
    });
    expect(after.body.error).toBe('invalid_grant');
  });

  it('lets an MCP SDK client discover it from the 401 and authorize with a CIMD client ID', async () => {
    const provider = new CimdClientProvider(cimd.clientId, cimd.redirectUri);
    const transport = () =>
      new StreamableHTTPClientTransport(new URL(upstream.mcpUrl), {
        fetch: caFetch(agent),
        authProvider: provider,
      });
    const first = transport();
    const refused = await new Client({ name: 'sdk-oauth', version: '1.0.0' }).connect(first).catch((e) => e);
    expect(refused).toBeInstanceOf(UnauthorizedError);
    const authorizationUrl = provider.authorizationUrl!;
    expect(authorizationUrl.searchParams.get('client_id')).toBe(cimd.clientId);
    expect(authorizationUrl.searchParams.get('resource')).toBe(upstream.mcpUrl);

    const browser = new HttpBrowser(cert.ca);
    const callback = await browser
      .authorize(authorizationUrl, cimd.redirectUri, 'frank')
      .finally(() => browser.close());
    await first.finishAuth(callback.searchParams.get('code')!);

    const client = new Client({ name: 'sdk-oauth', version: '1.0.0' });
    await client.connect(transport());
    try {
      const whoami = await client.callTool({ name: 'whoami' });
      expect(whoami.structuredContent).toMatchObject({ sub: 'frank', client_id: cimd.clientId });
    } finally {
      await client.close();
    }
  });

  it('refuses a resource other than the MCP URL with invalid_target', async () => {
    const { callback } = await authorize('erin', { resource: 'https://elsewhere.example/mcp' });
    expect(callback.searchParams.get('error')).toBe('invalid_target');
  });

  it('prints no oidc-provider notices', () => {
    const printed = consoleSpies.flatMap((spy) => spy.mock.calls.map((call) => String(call[0])));
    expect(printed.filter((line) => line.includes('oidc-provider'))).toEqual([]);
  });
});
