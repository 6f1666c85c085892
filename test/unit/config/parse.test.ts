import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../functions/core/config/parse.ts';

const route = { from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' };

function errorsOf(value: unknown): string[] {
  const result = parseConfig(value);
  if (result.ok) throw new Error('expected the config to be refused');
  return result.errors;
}

describe('parseConfig', () => {
  it('accepts a minimal config', () => {
    expect(parseConfig({ routes: [route] }).ok).toBe(true);
  });

  it('names the key path and the fix for a from with a path', () => {
    expect(errorsOf({ routes: [route, { ...route, from: 'https://a.example.com/x' }] })).toContain(
      'routes[1].from: must be an https origin without a path, query or fragment, got "https://a.example.com/x"',
    );
  });

  it.each([
    ['http://a.example.com', 'only https'],
    ['https://a.example.com?x=1', 'query or fragment'],
    ['https://a.example.com#f', 'query or fragment'],
    ['https://a.example.com/', 'trailing'],
    ['https://user@a.example.com', 'user info'],
    ['https://A.Example.com', 'lower case'],
    ['https://a.example.com:443', 'default port'],
    ['a.example.com', 'https origin'],
  ])('refuses from=%s', (from, hint) => {
    const [line] = errorsOf({ routes: [{ ...route, from }] });
    expect(line).toMatch(/^routes\[0\]\.from: /);
    expect(line).toContain(hint);
  });

  it('refuses duplicate route origins and says which route is first', () => {
    expect(errorsOf({ routes: [route, { ...route }] })).toEqual([
      'routes[1].from: duplicates routes[0].from "https://mcp.example.com"; each route needs its own origin',
    ]);
  });

  it('accepts https://localhost:PORT origins and local-only flags for the local gateway', () => {
    const result = parseConfig({
      routes: [
        {
          from: 'https://localhost:8443',
          to: 'http://127.0.0.1:9400/mcp',
          allowInsecureUpstream: true,
          allowPrivateNetwork: true,
        },
      ],
    });
    expect(result.ok).toBe(true);
  });

  it('refuses an http upstream unless allowInsecureUpstream is set', () => {
    expect(errorsOf({ routes: [{ ...route, to: 'http://up.example.net/mcp' }] })[0]).toMatch(
      /^routes\[0\]\.to: must be an https URL \(set "allowInsecureUpstream: true"/,
    );
  });

  it('names unknown keys so typos do not silently drop settings', () => {
    expect(errorsOf({ routes: [{ ...route, clientname: 'x' }] })).toEqual([
      'routes[0].clientname: unknown key; remove it or check its spelling',
    ]);
  });

  it('says what is missing', () => {
    expect(errorsOf({})).toEqual(['routes: is required (array)']);
    expect(errorsOf({ routes: [] })).toEqual(['routes: must list at least one route']);
    expect(errorsOf({ routes: [{ from: route.from }] })).toEqual(['routes[0].to: is required (string)']);
  });

  it('validates optional CIMD fields', () => {
    const errors = errorsOf({
      routes: [{ ...route, cimd: { logoUri: 'http://x.example/l.png', contacts: ['nope'] } }],
    });
    expect(errors).toContain(
      'routes[0].cimd.logoUri: logoUri must be an absolute https URL, got "http://x.example/l.png"',
    );
    expect(errors).toContain('routes[0].cimd.contacts[0]: must be an email address');
  });

  it('needs exactly one secret source', () => {
    const errors = errorsOf({
      routes: [
        {
          ...route,
          upstream: { clientId: 'c', clientSecret: {}, authorizationServer: 'https://as.example.com' },
        },
      ],
    });
    expect(errors[0]).toMatch(/^routes\[0\]\.upstream\.clientSecret: give exactly one of "env"/);
  });
});
