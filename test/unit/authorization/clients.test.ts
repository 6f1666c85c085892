import { describe, expect, it } from 'vitest';
import type { ClientDocuments } from '../../../functions/core/authorization/client-documents.ts';
import {
  type ClientResolverDeps,
  createClientResolver,
  isLoopbackRedirect,
  type McpClient,
  matchRedirectUri,
} from '../../../functions/core/authorization/clients.ts';
import type { FetchValidationResult } from '../../../functions/core/cimd/validate.ts';
import type { McpClientStore, RegisteredClient } from '../../../functions/core/store/mcp-clients.ts';

const ROUTE = 'https://mcp.example.com';

function client(redirectUris: string[]): McpClient {
  return {
    kind: 'cimd',
    clientId: 'https://app.example.com/client.json',
    name: 'App',
    verifiedHost: 'app.example.com',
    redirectUris,
    refreshTokens: true,
    autoApprove: false,
    trustedRedirects: false,
  };
}

describe('matchRedirectUri', () => {
  it('matches a registered URI exactly', () => {
    const c = client(['https://app.example.com/cb', 'https://app.example.com/other']);
    expect(matchRedirectUri(c, 'https://app.example.com/cb')).toBe('https://app.example.com/cb');
    expect(matchRedirectUri(c, 'https://app.example.com/other')).toBe('https://app.example.com/other');
  });

  it.each([
    ['http://127.0.0.1/cb', 'http://127.0.0.1:53123/cb'],
    ['http://127.0.0.1:8080/cb', 'http://127.0.0.1:53123/cb'],
    ['http://127.0.0.1:8080/cb', 'http://127.0.0.1/cb'],
    ['http://[::1]/cb', 'http://[::1]:40000/cb'],
    ['http://[::1]:1/cb', 'http://[::1]:65535/cb'],
    ['http://localhost/callback', 'http://localhost:3000/callback'],
    ['http://localhost:3000/callback', 'http://localhost:4000/callback'],
  ])('lets the loopback URI %s match %s on any port (RFC 8252 §7.3)', (registered, requested) => {
    expect(matchRedirectUri(client([registered]), requested)).toBe(requested);
  });

  it.each([
    ['path', 'http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb2'],
    ['path case', 'http://127.0.0.1/cb', 'http://127.0.0.1:5000/CB'],
    ['trailing slash', 'http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb/'],
    ['query', 'http://127.0.0.1/cb?a=1', 'http://127.0.0.1:5000/cb?a=2'],
    ['added query', 'http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb?a=1'],
    ['fragment', 'http://127.0.0.1/cb', 'http://127.0.0.1:5000/cb#x'],
    ['host (127.0.0.1 vs localhost)', 'http://127.0.0.1/cb', 'http://localhost:5000/cb'],
    ['host ([::1] vs 127.0.0.1)', 'http://[::1]/cb', 'http://127.0.0.1:5000/cb'],
    ['scheme (registered https)', 'https://127.0.0.1/cb', 'http://127.0.0.1:5000/cb'],
    ['dot segments', 'http://127.0.0.1/cb', 'http://127.0.0.1:5000/x/../cb'],
    ['a short IPv4 form', 'http://127.0.0.1/cb', 'http://127.1:5000/cb'],
    ['an upper-case scheme', 'http://127.0.0.1/cb', 'HTTP://127.0.0.1:5000/cb'],
  ])('refuses a loopback URI that differs in %s', (_what, registered, requested) => {
    expect(matchRedirectUri(client([registered]), requested)).toBeUndefined();
  });

  it('never relaxes the port of an https URI, loopback or not', () => {
    expect(matchRedirectUri(client(['https://127.0.0.1/cb']), 'https://127.0.0.1:8443/cb')).toBeUndefined();
    expect(matchRedirectUri(client(['https://localhost:1/cb']), 'https://localhost:2/cb')).toBeUndefined();
    expect(
      matchRedirectUri(client(['https://app.example.com/cb']), 'https://app.example.com:8443/cb'),
    ).toBeUndefined();
  });

  it('refuses a non-loopback http URI on another port', () => {
    expect(
      matchRedirectUri(client(['http://app.example.com:8080/cb']), 'http://app.example.com:9090/cb'),
    ).toBeUndefined();
  });

  it.each([
    'http://127.0.0.1.evil.com/cb',
    'http://127.0.0.1.evil.com:5000/cb',
    'http://localhost.evil.com:5000/cb',
    'http://127.0.0.1@evil.com/cb',
    'http://127.0.0.1:5000@evil.com/cb',
    'http://evil.com@127.0.0.1:5000/cb',
    'http://user:pw@127.0.0.1:5000/cb',
    'http://[::1]@evil.com/cb',
  ])('refuses the look-alike %s against a registered loopback URI', (requested) => {
    const c = client(['http://127.0.0.1/cb', 'http://localhost/cb', 'http://[::1]/cb']);
    expect(matchRedirectUri(c, requested)).toBeUndefined();
  });

  it('refuses what is not a URL at all', () => {
    expect(matchRedirectUri(client(['http://127.0.0.1/cb']), 'not a url')).toBeUndefined();
    expect(matchRedirectUri(client(['http://127.0.0.1/cb']), '')).toBeUndefined();
  });
});

describe('isLoopbackRedirect', () => {
  it('is true for http on 127.0.0.1, [::1] and localhost only', () => {
    expect(isLoopbackRedirect('http://127.0.0.1:1/x')).toBe(true);
    expect(isLoopbackRedirect('http://[::1]/x')).toBe(true);
    expect(isLoopbackRedirect('http://localhost/x')).toBe(true);
    expect(isLoopbackRedirect('https://localhost/x')).toBe(false);
    expect(isLoopbackRedirect('http://127.0.0.1.evil.com/x')).toBe(false);
    expect(isLoopbackRedirect('http://127.0.0.1@evil.com/x')).toBe(false);
  });
});

/** Our own ClientDocuments interface, counting look-ups; answers from a table of documents. */
function documentsStub(answers: Record<string, FetchValidationResult> = {}) {
  const calls: string[] = [];
  const documents: ClientDocuments = {
    async get(clientId) {
      calls.push(clientId);
      return (
        answers[clientId] ?? {
          ok: false,
          stage: 'fetch',
          errors: [{ rule: 'fetch.status', message: 'status 404', value: clientId }],
          warnings: [],
        }
      );
    },
  };
  return { documents, calls };
}

/** Our own McpClientStore interface, in memory, counting reads. */
function registeredStub(clients: RegisteredClient[] = []) {
  const calls: string[] = [];
  const registered: McpClientStore = {
    async register() {
      throw new Error('not used here');
    },
    async get(clientId, route) {
      calls.push(clientId);
      return clients.find((c) => c.clientId === clientId && c.route === route);
    },
  };
  return { registered, calls };
}

function cimdDocument(clientId: string, extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: 'Some App',
    redirect_uris: ['https://app.example.com/cb', 'http://127.0.0.1/cb'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  };
}

function fetched(document: Record<string, unknown>): FetchValidationResult {
  return {
    ok: true,
    document: document as never,
    warnings: [],
    address: '203.0.113.7',
    caching: {},
    cacheLifetimeSeconds: 300,
  };
}

function resolver(deps: Partial<ClientResolverDeps> = {}) {
  const docs = documentsStub();
  const reg = registeredStub();
  const resolve = createClientResolver({ documents: docs.documents, registered: reg.registered, ...deps });
  return { resolve, docs, reg };
}

describe('createClientResolver', () => {
  const APP = 'https://app.example.com/client.json';

  it('refuses a blocked host as client_blocked without asking for its document', async () => {
    const docs = documentsStub({ [APP]: fetched(cimdDocument(APP)) });
    const { resolve } = resolver({
      documents: docs.documents,
      trustPolicy: { blockedDomains: ['*.example.com'], trustedDomains: ['app.example.com'] },
    });
    expect(await resolve(APP, ROUTE)).toMatchObject({ ok: false, code: 'client_blocked' });
    expect(docs.calls).toEqual([]);
  });

  it.each([
    'https://EVIL.org/client.json',
    'HTTPS://evil.org/client.json',
    'https://evil.org:443/client.json',
    'https://evil.org:8443/client.json',
    'https://evil%2Eorg/client.json',
    'https://a.b.evil.org/client.json',
  ])('refuses the blocked host in %s however the URL spells it, without a fetch', async (id) => {
    const { resolve, docs } = resolver({ trustPolicy: { blockedDomains: ['evil.org', '*.evil.org'] } });
    expect(await resolve(id, ROUTE)).toMatchObject({ ok: false, code: 'client_blocked' });
    expect(docs.calls).toEqual([]);
  });

  // Regression (attacker review): `evil.org..` slipped past a one-dot strip. Names with a trailing
  // dot and IP-address hosts are refused before the policy, without a fetch.
  it.each([
    'https://evil.org./client.json',
    'https://evil.org../client.json',
    'https://10.0.0.1/client.json',
    'https://[::ffff:a00:1]/client.json',
  ])('refuses %s as client_id_invalid without a fetch', async (id) => {
    const { resolve, docs } = resolver({ trustPolicy: { blockedDomains: ['evil.org'] } });
    expect(await resolve(id, ROUTE)).toMatchObject({ ok: false, code: 'client_id_invalid' });
    expect(docs.calls).toEqual([]);
  });

  it('never auto-approves a trusted client_id that carries a query', async () => {
    const { resolve } = resolver({
      trustPolicy: {
        trustedDomains: ['app.example.com'],
        autoApproveTrusted: true,
        pinnedClients: { [`${APP}?v=1`]: cimdDocument(`${APP}?v=1`), [APP]: cimdDocument(APP) },
      },
    });
    expect(await resolve(`${APP}?v=1`, ROUTE)).toMatchObject({ ok: true, client: { autoApprove: false } });
    expect(await resolve(APP, ROUTE)).toMatchObject({
      ok: true,
      client: { autoApprove: true, trustedRedirects: true },
    });
  });

  it('refuses a blocked host before its pinned document is considered', async () => {
    const { resolve, docs } = resolver({
      trustPolicy: { blockedDomains: ['app.example.com'], pinnedClients: { [APP]: cimdDocument(APP) } },
    });
    expect(await resolve(APP, ROUTE)).toMatchObject({ ok: false, code: 'client_blocked' });
    expect(docs.calls).toEqual([]);
  });

  it('refuses an unlisted host as client_unlisted without a fetch when allowUnlisted is false', async () => {
    const { resolve, docs } = resolver({ trustPolicy: { allowUnlisted: false } });
    expect(await resolve(APP, ROUTE)).toMatchObject({ ok: false, code: 'client_unlisted' });
    expect(docs.calls).toEqual([]);
  });

  it('uses a pinned client document without fetching it', async () => {
    const { resolve, docs } = resolver({ trustPolicy: { pinnedClients: { [APP]: cimdDocument(APP) } } });
    const result = await resolve(APP, ROUTE);
    expect(result).toEqual({
      ok: true,
      client: {
        kind: 'cimd',
        clientId: APP,
        name: 'Some App',
        verifiedHost: 'app.example.com',
        redirectUris: ['https://app.example.com/cb', 'http://127.0.0.1/cb'],
        refreshTokens: true,
        autoApprove: false,
        trustedRedirects: false,
      },
    });
    expect(docs.calls).toEqual([]);
  });

  it('refuses an invalid pinned document as client_document_invalid', async () => {
    const { resolve, docs } = resolver({
      trustPolicy: { pinnedClients: { [APP]: cimdDocument('https://other.example.com/client.json') } },
    });
    expect(await resolve(APP, ROUTE)).toMatchObject({
      ok: false,
      code: 'client_document_invalid',
      rule: 'doc.client_id_mismatch',
    });
    expect(docs.calls).toEqual([]);
  });

  it('fetches an unpinned CIMD client and auto-approves it only when trusted under autoApproveTrusted', async () => {
    const docs = documentsStub({ [APP]: fetched(cimdDocument(APP)) });
    const trusted = createClientResolver({
      documents: docs.documents,
      registered: registeredStub().registered,
      trustPolicy: { trustedDomains: ['*.example.com'], autoApproveTrusted: true },
    });
    expect(await trusted(APP, ROUTE)).toMatchObject({
      ok: true,
      client: { kind: 'cimd', autoApprove: true },
    });
    const unlisted = createClientResolver({
      documents: docs.documents,
      registered: registeredStub().registered,
      trustPolicy: { autoApproveTrusted: true },
    });
    expect(await unlisted(APP, ROUTE)).toMatchObject({ ok: true, client: { autoApprove: false } });
    expect(docs.calls).toEqual([APP, APP]);
  });

  it('refuses a document that authenticates with private_key_jwt as client_auth_unsupported', async () => {
    const doc = cimdDocument(APP, {
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: 'https://app.example.com/jwks.json',
    });
    const { resolve } = resolver({ documents: documentsStub({ [APP]: fetched(doc) }).documents });
    expect(await resolve(APP, ROUTE)).toMatchObject({ ok: false, code: 'client_auth_unsupported' });
    const pinned = resolver({ trustPolicy: { pinnedClients: { [APP]: doc } } });
    expect(await pinned.resolve(APP, ROUTE)).toMatchObject({ ok: false, code: 'client_auth_unsupported' });
  });

  it('tells an unreachable document from an invalid one', async () => {
    const { resolve } = resolver();
    expect(await resolve(APP, ROUTE)).toMatchObject({
      ok: false,
      code: 'client_document_unavailable',
      rule: 'fetch.status',
    });
    const invalid = resolver({
      documents: documentsStub({
        [APP]: {
          ok: false,
          stage: 'document',
          errors: [{ rule: 'doc.redirect_uris_required', message: 'x' }],
          warnings: [],
        },
      }).documents,
    });
    expect(await invalid.resolve(APP, ROUTE)).toMatchObject({
      ok: false,
      code: 'client_document_invalid',
      rule: 'doc.redirect_uris_required',
    });
  });

  it('finds a configured client by its id', async () => {
    const { resolve, docs, reg } = resolver({
      mcpClients: [{ clientId: 'my-cli', name: 'My CLI', redirectUris: ['http://127.0.0.1/cb'] }],
    });
    expect(await resolve('my-cli', ROUTE)).toEqual({
      ok: true,
      client: {
        kind: 'configured',
        clientId: 'my-cli',
        name: 'My CLI',
        redirectUris: ['http://127.0.0.1/cb'],
        refreshTokens: true,
        autoApprove: false,
        trustedRedirects: true,
      },
    });
    expect(docs.calls).toEqual([]);
    expect(reg.calls).toEqual([]);
  });

  it('finds a registered client on its route, unverified and never auto-approved', async () => {
    const id = `mcp-edge-dcr-${'A'.repeat(22)}`;
    const reg = registeredStub([
      {
        clientId: id,
        route: ROUTE,
        clientName: 'Inspector',
        redirectUris: ['http://localhost/cb'],
        grantTypes: ['authorization_code'],
        issuedAt: 0,
      },
    ]);
    const { resolve } = resolver({
      registered: reg.registered,
      trustPolicy: { trustedDomains: ['*.example.com'], autoApproveTrusted: true },
    });
    const result = await resolve(id, ROUTE);
    expect(result).toEqual({
      ok: true,
      client: {
        kind: 'registered',
        clientId: id,
        name: 'Inspector',
        redirectUris: ['http://localhost/cb'],
        refreshTokens: false,
        autoApprove: false,
        trustedRedirects: false,
      },
    });
    expect(await resolve(id, 'https://other.example.com')).toMatchObject({
      ok: false,
      code: 'client_unknown',
    });
  });

  it('refuses a registered-id shape as client_unknown, without a store read, when dynamic registration is off', async () => {
    const { resolve, reg } = resolver({ trustPolicy: { allowDynamicRegistration: false } });
    expect(await resolve(`mcp-edge-dcr-${'A'.repeat(22)}`, ROUTE)).toMatchObject({
      ok: false,
      code: 'client_unknown',
    });
    expect(reg.calls).toEqual([]);
  });

  it('refuses an id that is neither configured nor registered as client_unknown', async () => {
    const { resolve, reg } = resolver();
    expect(await resolve('some-client', ROUTE)).toMatchObject({ ok: false, code: 'client_unknown' });
    expect(reg.calls).toEqual([]);
  });

  it('refuses a missing client_id as client_id_missing', async () => {
    const { resolve } = resolver();
    for (const id of [undefined, null, '']) {
      expect(await resolve(id, ROUTE)).toMatchObject({ ok: false, code: 'client_id_missing' });
    }
  });

  it.each([
    ['http://app.example.com/client.json', 'url.https_only'],
    ['HTTP://app.example.com/client.json', 'url.https_only'],
    ['https://app.example.com/', 'url.path_required'],
    ['https://user@app.example.com/client.json', 'url.no_userinfo'],
    ['https://@app.example.com/client.json', 'url.no_userinfo'],
    ['https://app.example.com/a/../client.json', 'url.dot_segment'],
    ['https://app.example.com/client.json#x', 'url.fragment'],
    ['https:///client.json', undefined],
    ['https:app.example.com/client.json', undefined],
    ['https://app example.com/client.json', undefined],
    ['https://', undefined],
  ])('refuses the client_id %s as client_id_invalid without a fetch', async (id, rule) => {
    const { resolve, docs } = resolver();
    const result = await resolve(id, ROUTE);
    expect(result).toMatchObject({ ok: false, code: 'client_id_invalid' });
    if (rule) expect(result).toMatchObject({ rule });
    expect(docs.calls).toEqual([]);
  });

  it('refuses a client_id longer than 2048 characters as client_id_invalid', async () => {
    const { resolve, docs } = resolver();
    const id = `https://app.example.com/${'a'.repeat(2048)}`;
    expect(await resolve(id, ROUTE)).toMatchObject({ ok: false, code: 'client_id_invalid' });
    expect(docs.calls).toEqual([]);
  });
});
