import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userIdFor } from '../../functions/core/auth/signin.ts';
import { parseConfig } from '../../functions/core/config/parse.ts';
import { vaultKey } from '../../functions/core/store/keys.ts';
import { type Cipher, createLocalCipher } from '../../functions/core/vault/cipher.ts';
import type { VaultItem } from '../../functions/core/vault/item.ts';
import { cookieNames } from '../../functions/core/web/cookies.ts';
import { type LocalDemo, startLocalDemo } from '../../functions/local/demo/start.ts';
import type { DemoUpstream } from '../../functions/local/demo/upstream.ts';
import { type LocalGateway, startLocalGateway } from '../../functions/local/gateway.ts';
import { freePort } from '../../functions/local/ports.ts';
import { type DevCertificate, ensureDevCertificate } from '../../functions/local/tls.ts';
import { caFetch, HttpBrowser, hiddenField } from '../support/http-browser.ts';

/**
 * The whole connect flow over HTTPS on the local gateway, against real parties: the demo identity
 * provider (oidc-provider) for sign-in, and the demo upstream — an MCP SDK server behind an
 * oidc-provider authorization server that fetches and validates the routes' CIMDs. Two routes,
 * A and B, front the same upstream; each is its own OAuth client. The steps run in order and
 * share one browser, as one person would.
 */
describe('connecting two routes to a CIMD upstream through the local gateway', () => {
  /** The login typed at both the demo IdP and the upstream's AS (the upstream's `sub`). */
  const USER = 'alice';
  /** The gateway's id for that person: the IdP subject qualified by its issuer. */
  let USER_ID: string;
  let dir: string;
  let cert: DevCertificate;
  let demo: LocalDemo;
  let upstream: DemoUpstream;
  let gateway: LocalGateway;
  let browser: HttpBrowser;
  let A: string;
  let B: string;
  let cipher: Cipher;
  let ddb: DynamoDBDocumentClient;
  let tokenEndpoint: string;
  /** Added to the gateway's clock: moves stored tokens towards expiry without waiting. */
  let skew = 0;
  /** Every token and one-time value seen in the run; none may reach the browser or the table in clear. */
  const tokens = new Set<string>();

  const cimdUrl = (origin: string) => `${origin}/.well-known/mcp-client-metadata.json`;
  const keyOf = (route: string, user = USER_ID) => ({ route, user });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-edge-e2e-connect-'));
    cert = await ensureDevCertificate(dir);
    A = `https://localhost:${await freePort()}`;
    B = `https://localhost:${await freePort()}`;
    demo = await startLocalDemo({
      routeOrigins: [A, B],
      tls: cert,
      ca: cert.ca,
      ports: { identityProvider: 0, upstream: 0, upstreamAuthorizationServer: 0 },
    });
    upstream = demo.upstream;
    USER_ID = userIdFor(demo.identityProvider.issuer, USER);
    const parsed = parseConfig({
      routes: [
        { from: A, to: upstream.mcpUrl, name: 'Route A', allowPrivateNetwork: true },
        { from: B, to: upstream.mcpUrl, name: 'Route B', allowPrivateNetwork: true },
      ],
    });
    if (!parsed.ok) throw new Error(parsed.errors.join('\n'));
    const key = randomBytes(32);
    cipher = createLocalCipher(key);
    gateway = await startLocalGateway({
      config: parsed.config,
      tls: cert,
      ca: cert.ca,
      idp: { issuer: demo.identityProvider.issuer, clientId: demo.identityProvider.clientId },
      vaultKey: key,
      clock: { now: () => Date.now() + skew },
    });
    ddb = DynamoDBDocumentClient.from(gateway.dynamo.client);
    browser = new HttpBrowser(cert.ca);
    const metadata = await browser.request(
      new URL(`${upstream.issuer}/.well-known/oauth-authorization-server`),
      {
        accept: 'application/json',
      },
    );
    tokenEndpoint = (JSON.parse(metadata.body) as { token_endpoint: string }).token_endpoint;
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all([gateway?.stop(), demo?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** The vault item as stored (clear metadata and the encrypted `secrets`). */
  async function storedItem(route: string, user = USER_ID): Promise<VaultItem | undefined> {
    const { Item } = await ddb.send(
      new GetCommand({
        TableName: gateway.dynamo.tableName,
        Key: vaultKey(route, user),
        ConsistentRead: true,
      }),
    );
    return Item as VaultItem | undefined;
  }

  /** The stored refresh token, decrypted with the gateway's vault key (tests only). */
  async function storedRefreshToken(route: string): Promise<string> {
    const item = await storedItem(route);
    if (!item) throw new Error(`no vault item for ${route}`);
    const plain = await cipher.decrypt(item.secrets, { route, user: USER_ID, issuer: item.issuer });
    const { refreshToken } = JSON.parse(new TextDecoder().decode(plain)) as { refreshToken?: string };
    if (!refreshToken) throw new Error('the item holds no refresh token');
    return refreshToken;
  }

  async function accessToken(route: string): Promise<string> {
    const result = await gateway.services.vault.get(keyOf(route));
    if (!result.ok) throw new Error(`vault.get(${route}) → ${result.code}`);
    return result.accessToken;
  }

  /** Calls the upstream's `whoami` tool with a bearer token through an MCP SDK v1 client. */
  async function whoami(token: string): Promise<{ sub: string; client_id: string; scope: string }> {
    const client = new Client({ name: 'mcp-edge-e2e', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(upstream.mcpUrl), {
      fetch: caFetch(browser.agent),
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    });
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: 'whoami' });
      return result.structuredContent as { sub: string; client_id: string; scope: string };
    } finally {
      await client.close();
    }
  }

  async function connections(origin: string) {
    const res = await browser.request(new URL(`${origin}/.pomerium/connections`), {
      accept: 'application/json',
    });
    expect(res.status).toBe(200);
    return JSON.parse(res.body) as {
      user: string;
      connections: Array<{ route: string; connected: boolean; issuer: string | null; scopes: string[] }>;
    };
  }

  /** Every string the browser was given: bodies, redirect targets and cookies. */
  function everythingTheBrowserSaw(): string {
    return browser.seen
      .map((e) => [e.body, e.headers.get('location') ?? '', ...e.headers.getSetCookie()].join('\n'))
      .join('\n');
  }

  /** The one-time values of the flows so far, read off the URLs the browser visited. */
  function flowSecrets(): { values: string[]; challenges: string[] } {
    const values: string[] = [];
    const challenges: string[] = [];
    for (const url of browser.visited) {
      const challenge = url.searchParams.get('code_challenge');
      if (challenge) challenges.push(challenge);
      if (url.pathname === '/.pomerium/login/callback' || url.pathname === '/.pomerium/oauth/callback') {
        for (const name of ['code', 'state']) {
          const value = url.searchParams.get(name);
          if (value) values.push(value);
        }
      }
    }
    return { values, challenges };
  }

  /** Every item of the table, raw (low-level client, AttributeValue maps), all pages. */
  async function scanTable(): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await gateway.dynamo.client.send(
        new ScanCommand({
          TableName: gateway.dynamo.tableName,
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  function stringLeaves(value: unknown, out: string[] = []): string[] {
    if (typeof value === 'string') out.push(value);
    else if (value && typeof value === 'object') for (const v of Object.values(value)) stringLeaves(v, out);
    return out;
  }

  it('signs the person in at the IdP and connects route A, whose CIMD URL is the client ID of its token', async () => {
    const end = await browser.follow(
      new URL(`${A}/.pomerium/connect?return_to=${encodeURIComponent('/.pomerium/connections')}`),
      'alice',
    );
    expect(end.status).toBe(200);
    expect(end.url.href).toBe(`${A}/.pomerium/connections`);
    expect(browser.prompts).toEqual(['login', 'login', 'consent']);
    expect(upstream.fetchedCimds).toContain(cimdUrl(A));
    expect(upstream.fetchedCimds).not.toContain(cimdUrl(B));
    expect(upstream.tokenRequests()).toBe(1);

    const token = await accessToken(A);
    tokens.add(token);
    tokens.add(await storedRefreshToken(A));
    expect(await whoami(token)).toEqual({ sub: USER, client_id: cimdUrl(A), scope: 'mcp:tools' });
  });

  it('lists route A as connected and route B as not, and never shows the browser a token', async () => {
    const listed = await connections(A);
    expect(listed.user).toBe('alice@example.com');
    expect(listed.connections).toEqual([
      expect.objectContaining({ route: A, connected: true, issuer: upstream.issuer, scopes: ['mcp:tools'] }),
      expect.objectContaining({ route: B, connected: false, issuer: null, scopes: [] }),
    ]);
    const html = await browser.request(new URL(`${A}/.pomerium/connections`));
    expect(html.body).toContain('Route A');
    expect(html.body).toContain('connected');

    const seen = everythingTheBrowserSaw();
    expect(tokens.size).toBe(2);
    for (const token of tokens) expect(seen.includes(token)).toBe(false);
  });

  it('asks first when another site starts a connect, and goes on from its own page', async () => {
    const states = async () =>
      (await scanTable()).filter((item) => String(item.pk?.S).startsWith('state#')).length;
    const before = await states();
    const start = new URL(`${A}/.pomerium/connect?return_to=${encodeURIComponent('/.pomerium/connections')}`);
    for (const site of ['cross-site', 'same-site', 'none']) {
      const asked = await browser.request(start, { headers: { 'sec-fetch-site': site } });
      expect(asked.status).toBe(200);
      expect(asked.headers.get('location')).toBeNull();
      expect(asked.body).toContain(new URL(upstream.mcpUrl).host);
      const link = /<a class="button" href="([^"]+)">/.exec(asked.body)?.[1];
      expect(link && new URL(link.replace(/&amp;/g, '&'), start).href).toBe(start.href);
    }
    // Nothing was started: no state record, no trip to the upstream's authorization server.
    expect(await states()).toBe(before);
    // Continue, pressed on that page: a same-origin navigation, which starts the connect.
    const went = await browser.request(start, { headers: { 'sec-fetch-site': 'same-origin' } });
    expect(went.status).toBe(303);
    expect(went.headers.get('location')?.startsWith(upstream.issuer)).toBe(true);
    expect(await states()).toBe(before + 1);
  });

  it('keeps no token, code, state, session id, binding or PKCE verifier in clear in the table', async () => {
    const items = await scanTable();
    const serialized = items.map((item) => JSON.stringify(item));
    const all = serialized.join('\n');
    const names = cookieNames(A);
    const session = browser.cookie('localhost', names.session);
    const binding = browser.cookie('localhost', names.binding);
    expect(session).toBeDefined();
    expect(binding).toBeDefined();
    const { values, challenges } = flowSecrets();
    // Two sign-in answers (IdP) and one connect answer (upstream), each with a code and a state.
    expect(values).toHaveLength(4);
    expect(challenges).toHaveLength(2);

    const secrets = [...tokens, session!, binding!, ...values];
    for (const secret of secrets) expect(all.includes(secret)).toBe(false);
    // A PKCE verifier is recognised by its S256 challenge, wherever a string in an item holds one.
    const hashes = new Set(
      stringLeaves(items).map((s) => createHash('sha256').update(s).digest('base64url')),
    );
    for (const challenge of challenges) expect(hashes.has(challenge)).toBe(false);

    // The search can find things: the session is there, as the hash of its id, and the vault item encrypted.
    expect(all).toContain(`session#${createHash('sha256').update(session!).digest('base64url')}`);
    const vaultItem = items.find((item) => item.sk?.S === `route#${A}`);
    expect(vaultItem?.secrets?.M?.ct?.S).toMatch(/^[\w-]{40,}$/);
  });

  it("gives route B and other users nothing of route A's tokens, even from a copied item", async () => {
    const { vault } = gateway.services;
    expect(await vault.get(keyOf(B))).toEqual({ ok: false, code: 'not_connected' });
    expect(await vault.get(keyOf(A, 'bob'))).toEqual({ ok: false, code: 'not_connected' });

    // Someone with table access copies A's item under bob's key and under route B: it does not open.
    const item = await storedItem(A);
    const copies = [vaultKey(A, 'bob'), vaultKey(B, USER_ID)];
    for (const key of copies) {
      await ddb.send(new PutCommand({ TableName: gateway.dynamo.tableName, Item: { ...item, ...key } }));
    }
    try {
      expect(await vault.get(keyOf(A, 'bob'))).toEqual({ ok: false, code: 'decrypt_failed' });
      expect(await vault.get(keyOf(B))).toEqual({ ok: false, code: 'decrypt_failed' });
    } finally {
      for (const key of copies)
        await ddb.send(new DeleteCommand({ TableName: gateway.dynamo.tableName, Key: key }));
    }
  });

  it("connects route B too, with B's CIMD URL as its client ID and tokens of its own", async () => {
    const end = await browser.follow(new URL(`${B}/.pomerium/connect`), 'alice');
    expect(end.status).toBe(200);
    expect(end.url.href).toBe(`${B}/.pomerium/connections`);
    expect(upstream.fetchedCimds).toContain(cimdUrl(B));
    expect(upstream.tokenRequests()).toBe(2);

    const [tokenA, tokenB] = [await accessToken(A), await accessToken(B)];
    const [refreshA, refreshB] = [await storedRefreshToken(A), await storedRefreshToken(B)];
    expect(tokenB).not.toBe(tokenA);
    expect(refreshB).not.toBe(refreshA);
    tokens.add(tokenB);
    tokens.add(refreshB);
    expect(await whoami(tokenB)).toEqual({ sub: USER, client_id: cimdUrl(B), scope: 'mcp:tools' });
    expect((await whoami(tokenA)).client_id).toBe(cimdUrl(A));
    expect((await connections(B)).connections.map((c) => c.connected)).toEqual([true, true]);
  });

  it('refreshes an expiring token through the real AS once for 50 concurrent readers, and persists the rotated refresh token', async () => {
    const { vault } = gateway.services;
    const before = upstream.tokenRequests();
    const oldAccess = await accessToken(A);
    const oldRefresh = await storedRefreshToken(A);
    expect(upstream.tokenRequests()).toBe(before);

    skew = 10 * 60_000; // the 600 s token now looks expired to the gateway
    const results = await Promise.all(Array.from({ length: 50 }, () => vault.get(keyOf(A))));
    expect(upstream.tokenRequests() - before).toBe(1);
    const fresh = new Set(results.map((r) => (r.ok ? r.accessToken : r.code)));
    expect(fresh.size).toBe(1);
    const [newAccess] = [...fresh] as [string];
    expect(newAccess).not.toBe(oldAccess);
    expect(results.every((r) => r.ok)).toBe(true);
    const rotated = await storedRefreshToken(A);
    expect(rotated).not.toBe(oldRefresh);
    tokens.add(newAccess);
    tokens.add(rotated);
    expect((await whoami(newAccess)).client_id).toBe(cimdUrl(A));

    // Later again: the rotated refresh token is the one stored, so the next refresh succeeds.
    skew += 11 * 60_000;
    const again = await vault.get(keyOf(A));
    expect(again.ok).toBe(true);
    expect(upstream.tokenRequests() - before).toBe(2);
    const third = again.ok ? again.accessToken : '';
    expect(third).not.toBe(newAccess);
    const rotatedAgain = await storedRefreshToken(A);
    expect(rotatedAgain).not.toBe(rotated);
    tokens.add(third);
    tokens.add(rotatedAgain);
    expect((await whoami(third)).client_id).toBe(cimdUrl(A));
  });

  it("disconnects route A from the connections page: the item is gone and the AS revoked A's grant", async () => {
    const refreshToken = await storedRefreshToken(A);
    const { RefreshToken } = upstream.authorizationServer;
    expect((await RefreshToken.find(refreshToken))?.isValid).toBe(true);

    const page = await browser.request(new URL(`${A}/.pomerium/connections`));
    expect(page.status).toBe(200);
    expect(page.body).toContain('action="/.pomerium/disconnect"');
    const csrf = hiddenField(page.body, 'csrf');
    expect(csrf).toBeTruthy();
    const res = await browser.request(new URL(`${A}/.pomerium/disconnect`), {
      method: 'POST',
      body: new URLSearchParams({ csrf: csrf! }),
      headers: { origin: A },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/.pomerium/connections');

    expect(await storedItem(A)).toBeUndefined();
    expect(await gateway.services.vault.get(keyOf(A))).toEqual({ ok: false, code: 'not_connected' });
    expect(await RefreshToken.find(refreshToken)).toBeUndefined();
    const refused = await browser.request(new URL(tokenEndpoint), {
      method: 'POST',
      accept: 'application/json',
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
        client_id: cimdUrl(A),
      }),
    });
    expect(refused.status).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_grant' });

    // Route B is untouched.
    expect((await connections(A)).connections.map((c) => [c.route, c.connected])).toEqual([
      [A, false],
      [B, true],
    ]);
    expect(await storedItem(B)).toBeDefined();

    // Across the whole run, no token reached the browser.
    const seen = everythingTheBrowserSaw();
    for (const token of tokens) expect(seen.includes(token)).toBe(false);
  });
});
