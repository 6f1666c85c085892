import { describe, expect, it } from 'vitest';
import { ENDPOINTS, endpointPath, expandEndpoints, findEndpoint } from '../../functions/core/endpoints.ts';

const ROOT_PRM = '/.well-known/oauth-protected-resource';

describe('findEndpoint', () => {
  it.each([
    ['/.well-known/mcp-client-metadata.json', 'cimd'],
    ['/.pomerium/oauth/callback', 'callback'],
    ['/.pomerium/login', 'login'],
    ['/.pomerium/login/callback', 'login'],
    ['/.pomerium/logout', 'login'],
    ['/.pomerium/connect', 'connect'],
    ['/.pomerium/connections', 'connect'],
    ['/.pomerium/disconnect', 'connect'],
    [ROOT_PRM, 'authorization'],
    ['/.well-known/oauth-authorization-server', 'authorization'],
    ['/.pomerium/mcp/authorize', 'authorization'],
    ['/.pomerium/mcp/token', 'authorization'],
    ['/.pomerium/mcp/register', 'authorization'],
    ['/.pomerium/mcp/revoke', 'authorization'],
  ])('finds the fixed path %s (function %s) on a route at /mcp and at /', (path, fn) => {
    for (const mcpPath of ['/mcp', '/']) {
      const endpoint = findEndpoint(path, mcpPath);
      expect(endpoint?.function).toBe(fn);
      expect(endpoint?.path).toBe(path);
    }
  });

  it('finds the MCP endpoint and its path-suffixed PRM for a route at /mcp', () => {
    expect(findEndpoint('/mcp', '/mcp')).toMatchObject({ path: { route: 'mcp' }, function: 'proxy' });
    expect(findEndpoint('/.well-known/oauth-protected-resource/mcp', '/mcp')).toMatchObject({
      path: { route: 'mcp-resource-metadata' },
      function: 'authorization',
    });
    expect(findEndpoint('/mcp', '/mcp')?.methods).toEqual(['POST', 'GET', 'DELETE', 'OPTIONS']);
  });

  it('finds the MCP endpoint at / and answers the PRM at / with the fixed root row', () => {
    expect(findEndpoint('/', '/')).toMatchObject({ path: { route: 'mcp' }, function: 'proxy' });
    expect(findEndpoint(ROOT_PRM, '/')).toMatchObject({ path: ROOT_PRM, function: 'authorization' });
  });

  it('finds a nested MCP path and its PRM', () => {
    expect(findEndpoint('/a/b', '/a/b')?.function).toBe('proxy');
    expect(findEndpoint('/.well-known/oauth-protected-resource/a/b', '/a/b')?.function).toBe('authorization');
  });

  it("serves nothing at another route's MCP path or at near misses", () => {
    for (const path of ['/mcp', '/.well-known/oauth-protected-resource/mcp']) {
      expect(findEndpoint(path, '/')).toBeUndefined();
      expect(findEndpoint(path, '/other')).toBeUndefined();
    }
    expect(findEndpoint('/', '/mcp')).toBeUndefined();
    for (const path of [
      '/mcp/',
      '/MCP',
      '/mcp/x',
      '/.pomerium/mcp/token/',
      '/.pomerium/mcp',
      '/.well-known/',
      '',
    ]) {
      expect(findEndpoint(path, '/mcp'), path).toBeUndefined();
    }
  });
});

describe('expandEndpoints', () => {
  it('lists every path once for two routes with different MCP paths', () => {
    const rows = expandEndpoints(['/mcp', '/']);
    const paths = rows.map((r) => r.path);
    expect(new Set(paths).size).toBe(paths.length);
    const fixed = ENDPOINTS.filter((e) => typeof e.path === 'string').map((e) => e.path as string);
    expect(paths).toEqual(
      expect.arrayContaining([...fixed, '/mcp', '/', '/.well-known/oauth-protected-resource/mcp']),
    );
    // Fixed rows, plus the two MCP endpoints and one path-suffixed PRM (the root PRM is fixed).
    expect(paths).toHaveLength(fixed.length + 3);
  });

  it('keeps the fixed row for the root PRM when a route serves MCP at /', () => {
    const rows = expandEndpoints(['/mcp', '/']);
    const prm = rows.filter((r) => r.path === ROOT_PRM);
    expect(prm).toHaveLength(1);
    expect(prm[0]!.endpoint.path).toBe(ROOT_PRM);
    expect(rows.find((r) => r.path === '/')?.endpoint).toMatchObject({
      path: { route: 'mcp' },
      function: 'proxy',
    });
    expect(rows.find((r) => r.path === '/mcp')?.endpoint.function).toBe('proxy');
    expect(rows.find((r) => r.path === '/.well-known/oauth-protected-resource/mcp')?.endpoint).toMatchObject({
      path: { route: 'mcp-resource-metadata' },
    });
  });

  it('lists a path shared by two routes once', () => {
    const rows = expandEndpoints(['/mcp', '/mcp', '/a/b']);
    expect(rows.filter((r) => r.path === '/mcp')).toHaveLength(1);
    expect(rows.filter((r) => r.path === '/.well-known/oauth-protected-resource/mcp')).toHaveLength(1);
    expect(rows.map((r) => r.path)).toEqual(
      expect.arrayContaining(['/a/b', '/.well-known/oauth-protected-resource/a/b']),
    );
  });

  it('agrees with findEndpoint for every expanded path', () => {
    for (const mcpPath of ['/mcp', '/', '/a/b']) {
      for (const { path, endpoint } of expandEndpoints([mcpPath])) {
        expect(findEndpoint(path, mcpPath), path).toBe(endpoint);
        expect(endpointPath(endpoint, mcpPath)).toBe(
          typeof endpoint.path === 'string' ? endpoint.path : path,
        );
      }
    }
  });
});
