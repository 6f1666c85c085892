import { describe, expect, it } from 'vitest';
import { formatConfigIssues, parseConfig } from '../../../functions/core/config/parse.ts';
import { authorizationSettingsSchema, mcpPathOf } from '../../../functions/core/config/schema.ts';
import { describeRoute } from '../../../functions/core/routes.ts';

const route = { from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' };
const PINNED = 'https://claude.ai/oauth/mcp-oauth-client-metadata';

function pinnedDocument(clientId = PINNED, extra: Record<string, unknown> = {}) {
  return {
    client_id: clientId,
    client_name: 'Claude',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    token_endpoint_auth_method: 'none',
    ...extra,
  };
}

function errorsOf(value: unknown): string[] {
  const result = parseConfig(value);
  if (result.ok) throw new Error('expected the config to be refused');
  return result.errors;
}

/** The key paths of the messages (the part before the first ": "). */
function pathsOf(value: unknown): string[] {
  return errorsOf(value).map((line) => line.slice(0, line.indexOf(': ')));
}

function settingsPaths(value: unknown): string[] {
  const result = authorizationSettingsSchema.safeParse(value);
  if (result.success) throw new Error('expected the settings to be refused');
  return formatConfigIssues(result.error.issues).map((line) => line.slice(0, line.indexOf(': ')));
}

describe('routes[].path', () => {
  it.each(['/', '/mcp', '/a/b', '/v1.0/mcp_x-y'])('accepts %j', (path) => {
    const result = parseConfig({ routes: [{ ...route, path }] });
    expect(result.ok).toBe(true);
    if (result.ok) expect(describeRoute(result.config.routes[0]!).mcpPath).toBe(path);
  });

  it.each([
    'mcp',
    '/mcp/',
    '//mcp',
    '',
    '/.well-known/x',
    '/.well-known',
    '/.pomerium/x',
    '/.pomerium',
    '/a/../b',
    '/a/./b',
    '/..',
    '/a b',
    '/a?b',
    '/a#b',
    '/a%20b',
    '/a\\b',
  ])('refuses %j at routes[0].path', (path) => {
    expect(pathsOf({ routes: [{ ...route, path }] })).toEqual(['routes[0].path']);
  });

  it.each([
    ['https://up.example.net/mcp', '/mcp'],
    ['https://up.example.net/mcp/', '/mcp'],
    ['https://up.example.net', '/'],
    ['https://up.example.net/', '/'],
    ['https://up.example.net/a/b?x=1', '/a/b'],
  ])('derives the MCP path of to=%s as %j when path is not given', (to, expected) => {
    expect(mcpPathOf(to)).toBe(expected);
    const result = parseConfig({ routes: [{ ...route, to }] });
    expect(result.ok).toBe(true);
    if (result.ok) {
      const r = describeRoute(result.config.routes[0]!);
      expect(r.mcpPath).toBe(expected);
      expect(r.resource).toBe(`https://mcp.example.com${expected}`);
    }
  });

  it.each([
    'https://u.example.com/.well-known/x',
    'https://u.example.com/.pomerium/mcp',
    'https://u.example.com/a%20b',
  ])('requires path when the path of to=%s cannot be an MCP endpoint path', (to) => {
    expect(pathsOf({ routes: [{ ...route, to }] })).toEqual(['routes[0].path']);
    expect(parseConfig({ routes: [{ ...route, to, path: '/mcp' }] }).ok).toBe(true);
  });
});

describe('trustPolicy', () => {
  it('accepts domains and wildcard domains', () => {
    const result = parseConfig({
      routes: [route],
      trustPolicy: {
        trustedDomains: ['example.com', '*.example.com', 'vscode.dev'],
        blockedDomains: ['*.evil.example'],
        autoApproveTrusted: true,
        allowUnlisted: false,
        allowDynamicRegistration: false,
      },
    });
    expect(result.ok).toBe(true);
  });

  it.each([
    '*.*.com',
    '*.com',
    '*',
    'Example.com',
    'https://x.com',
    'x.com:443',
    'x.com/',
    'x.com.',
    '-x.com',
    'a..com',
    '*example.com',
    'ex ample.com',
  ])('refuses the domain pattern %j in trustedDomains and blockedDomains', (pattern) => {
    expect(pathsOf({ routes: [route], trustPolicy: { trustedDomains: ['ok.com', pattern] } })).toEqual([
      'trustPolicy.trustedDomains[1]',
    ]);
    expect(pathsOf({ routes: [route], trustPolicy: { blockedDomains: [pattern] } })).toEqual([
      'trustPolicy.blockedDomains[0]',
    ]);
  });

  it('refuses unknown keys in trustPolicy', () => {
    expect(pathsOf({ routes: [route], trustPolicy: { trustedDomain: ['x.com'] } })).toEqual([
      'trustPolicy.trustedDomain',
    ]);
  });

  it('accepts a pinned client whose key is its client_id and whose document is valid', () => {
    const result = parseConfig({
      routes: [route],
      trustPolicy: { pinnedClients: { [PINNED]: pinnedDocument() } },
    });
    expect(result.ok).toBe(true);
  });

  it.each([
    ['http://claude.ai/client.json'],
    ['https://claude.ai/'],
    ['https://claude.ai'],
    ['https://user@claude.ai/client.json'],
    ['https://claude.ai/a/../client.json'],
    ['https://claude.ai/client.json#x'],
    ['claude.ai/client.json'],
  ])('refuses the pinned client key %s (not a CIMD URL)', (key) => {
    const paths = pathsOf({
      routes: [route],
      trustPolicy: { pinnedClients: { [key]: pinnedDocument(key) } },
    });
    expect(paths.length).toBeGreaterThan(0);
    expect(new Set(paths)).toEqual(new Set([`trustPolicy.pinnedClients.${key}`]));
  });

  it.each([
    ['a client_id other than its key', pinnedDocument('https://claude.ai/other')],
    ['no client_id', { ...pinnedDocument(), client_id: undefined }],
    ['no redirect_uris', { ...pinnedDocument(), redirect_uris: [] }],
    ['no client_name', { ...pinnedDocument(), client_name: undefined }],
    ['a client secret', pinnedDocument(PINNED, { client_secret: 's' })],
    [
      'a shared-secret auth method',
      pinnedDocument(PINNED, { token_endpoint_auth_method: 'client_secret_basic' }),
    ],
    ['an http redirect URI off loopback', pinnedDocument(PINNED, { redirect_uris: ['http://claude.ai/cb'] })],
  ])('refuses a pinned document with %s', (_what, document) => {
    const errors = errorsOf({ routes: [route], trustPolicy: { pinnedClients: { [PINNED]: document } } });
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors)
      expect(line.startsWith(`trustPolicy.pinnedClients.${PINNED}: doc.`)).toBe(true);
  });

  it('refuses a pinned document that is not an object', () => {
    expect(pathsOf({ routes: [route], trustPolicy: { pinnedClients: { [PINNED]: 'x' } } })).toEqual([
      `trustPolicy.pinnedClients.${PINNED}`,
    ]);
  });
});

describe('mcpClients', () => {
  const entry = { clientId: 'my-cli', name: 'My CLI', redirectUris: ['http://127.0.0.1/cb'] };

  it('accepts https and loopback http redirect URIs', () => {
    const result = parseConfig({
      routes: [route],
      mcpClients: [
        {
          ...entry,
          redirectUris: [
            'https://app.example.com/cb',
            'http://127.0.0.1/cb',
            'http://[::1]:8080/cb',
            'http://localhost/cb',
          ],
        },
      ],
    });
    expect(result.ok).toBe(true);
  });

  it.each([
    'https://app.example.com/client.json',
    'http://app.example.com/x',
    'HTTPS://x.example/y',
    'http:x',
  ])('refuses the URL client id %s (URL ids are CIMDs)', (clientId) => {
    expect(pathsOf({ routes: [route], mcpClients: [{ ...entry, clientId }] })).toEqual([
      'mcpClients[0].clientId',
    ]);
  });

  it.each(['', 'has space', 'ü', 'x'.repeat(256)])('refuses the client id %j', (clientId) => {
    expect(pathsOf({ routes: [route], mcpClients: [{ ...entry, clientId }] })).toEqual([
      'mcpClients[0].clientId',
    ]);
  });

  it('refuses a duplicate clientId at the later entry', () => {
    expect(
      pathsOf({
        routes: [route],
        mcpClients: [entry, { ...entry, clientId: 'other' }, { ...entry, name: 'Again' }],
      }),
    ).toEqual(['mcpClients[2].clientId']);
  });

  it.each([
    'http://app.example.com/cb',
    'http://127.0.0.1.evil.com/cb',
    'http://127.0.0.1@evil.com/cb',
    'ftp://127.0.0.1/cb',
    'javascript:alert(1)',
    'com.example.app:/cb',
    'https://app.example.com/cb#x',
    '/relative/cb',
  ])('refuses the redirect URI %s', (uri) => {
    expect(
      pathsOf({ routes: [route], mcpClients: [{ ...entry, redirectUris: ['https://ok.example/cb', uri] }] }),
    ).toEqual(['mcpClients[0].redirectUris[1]']);
  });

  it('refuses an entry without redirect URIs', () => {
    expect(pathsOf({ routes: [route], mcpClients: [{ ...entry, redirectUris: [] }] })).toEqual([
      'mcpClients[0].redirectUris',
    ]);
  });
});

describe('tokens', () => {
  it.each([60, 600, 3600])('accepts accessTokenTtlSeconds %d', (accessTokenTtlSeconds) => {
    expect(parseConfig({ routes: [route], tokens: { accessTokenTtlSeconds } }).ok).toBe(true);
  });

  it.each([0, 59, 3601, 86_400, 60.5, -1])('refuses accessTokenTtlSeconds %d', (accessTokenTtlSeconds) => {
    expect(pathsOf({ routes: [route], tokens: { accessTokenTtlSeconds } })).toEqual([
      'tokens.accessTokenTtlSeconds',
    ]);
  });

  it.each([0, 366, 1.5])('refuses refreshTokenTtlDays %d', (refreshTokenTtlDays) => {
    expect(pathsOf({ routes: [route], tokens: { refreshTokenTtlDays } })).toEqual([
      'tokens.refreshTokenTtlDays',
    ]);
  });
});

describe('authorizationSettingsSchema', () => {
  it('accepts the authorization settings on their own', () => {
    const result = authorizationSettingsSchema.safeParse({
      trustPolicy: { trustedDomains: ['*.example.com'], pinnedClients: { [PINNED]: pinnedDocument() } },
      mcpClients: [{ clientId: 'my-cli', name: 'My CLI', redirectUris: ['http://127.0.0.1/cb'] }],
      tokens: { accessTokenTtlSeconds: 600 },
    });
    expect(result.success).toBe(true);
  });

  it('applies the same rules as the config', () => {
    const entry = { clientId: 'my-cli', name: 'My CLI', redirectUris: ['http://127.0.0.1/cb'] };
    expect(settingsPaths({ trustPolicy: { trustedDomains: ['Example.com'] } })).toEqual([
      'trustPolicy.trustedDomains[0]',
    ]);
    expect(
      settingsPaths({ trustPolicy: { pinnedClients: { [PINNED]: pinnedDocument('https://claude.ai/x') } } }),
    ).toEqual([`trustPolicy.pinnedClients.${PINNED}`]);
    expect(settingsPaths({ mcpClients: [entry, entry] })).toEqual(['mcpClients[1].clientId']);
    expect(settingsPaths({ mcpClients: [{ ...entry, clientId: 'https://x.example/c' }] })).toEqual([
      'mcpClients[0].clientId',
    ]);
    expect(settingsPaths({ mcpClients: [{ ...entry, redirectUris: ['http://x.example/cb'] }] })).toEqual([
      'mcpClients[0].redirectUris[0]',
    ]);
    expect(settingsPaths({ tokens: { accessTokenTtlSeconds: 3601 } })).toEqual([
      'tokens.accessTokenTtlSeconds',
    ]);
    expect(settingsPaths({ routes: [] })).toEqual(['routes']);
  });
});

describe('pinned documents the runtime would refuse', () => {
  it('refuses a pinned document using private_key_jwt, which the gateway does not accept', () => {
    const pinned = 'https://client.example/oauth/metadata.json';
    const result = parseConfig({
      routes: [{ from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' }],
      trustPolicy: {
        pinnedClients: {
          [pinned]: {
            client_id: pinned,
            client_name: 'Key client',
            redirect_uris: ['https://client.example/cb'],
            token_endpoint_auth_method: 'private_key_jwt',
          },
        },
      },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors).toEqual([
        expect.stringMatching(
          /^trustPolicy\.pinnedClients\.https:\/\/client\.example\/oauth\/metadata\.json: doc\.token_endpoint_auth_method:/,
        ),
      ]);
    }
  });
});
