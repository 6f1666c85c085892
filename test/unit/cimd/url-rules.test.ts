import { describe, expect, it } from 'vitest';
import { validateClientIdUrl } from '../../../functions/core/cimd/url-rules.ts';

const errorRules = (url: unknown) => {
  const result = validateClientIdUrl(url);
  return result.ok ? [] : result.errors.map((e) => e.rule);
};
const warningRules = (url: unknown) => validateClientIdUrl(url).warnings.map((w) => w.rule);

describe('validateClientIdUrl', () => {
  it.each([
    'https://client.example.com/oauth/metadata.json',
    'https://client.example.com/.well-known/mcp-client-metadata.json',
    'https://client.example.com:8443/cimd',
    'https://client.example.com:443/cimd',
    'https://127.0.0.1:9443/x',
    'https://[::1]:9443/x',
    'https://h/x',
    'HTTPS://h/x',
    'https://h/a%20b',
    'https://h/..foo/.bar/x..',
  ])('accepts %s', (url) => {
    expect(validateClientIdUrl(url)).toEqual({ ok: true, warnings: [] });
  });

  it.each([
    ['http://client.example.com/cimd.json', 'url.https_only'],
    ['ftp://client.example.com/cimd.json', 'url.https_only'],
    ['javascript:alert(1)', 'url.https_only'],
    ['https://user:pw@client.example.com/cimd', 'url.no_userinfo'],
    ['https://user@client.example.com/cimd', 'url.no_userinfo'],
    ['https://@client.example.com/cimd', 'url.no_userinfo'],
    ['https://:@client.example.com/cimd', 'url.no_userinfo'],
    ['https://client.example.com', 'url.path_required'],
    ['https://client.example.com/', 'url.path_required'],
    ['https://client.example.com:8443/', 'url.path_required'],
    ['https://client.example.com/a/../cimd', 'url.dot_segment'],
    ['https://client.example.com/a/./cimd', 'url.dot_segment'],
    ['https://client.example.com/..', 'url.dot_segment'],
    ['https://client.example.com/a/%2e%2e/cimd', 'url.dot_segment'],
    ['https://client.example.com/a/%2E%2E/cimd', 'url.dot_segment'],
    ['https://client.example.com/a/.%2e/cimd', 'url.dot_segment'],
    ['https://client.example.com/a/%2e./cimd', 'url.dot_segment'],
    ['https://client.example.com/a/%2E/cimd', 'url.dot_segment'],
    ['https://client.example.com/a/%2e', 'url.dot_segment'],
    ['https://client.example.com/cimd#frag', 'url.fragment'],
    ['https://client.example.com/cimd#', 'url.fragment'],
    ['https://client.example.com/cimd ', 'url.forbidden_character'],
    [' https://client.example.com/cimd', 'url.forbidden_character'],
    ['https://client.example.com/ci md', 'url.forbidden_character'],
    ['https://client.example.com/cimd\t', 'url.forbidden_character'],
    ['https://client.example.com/cimd\n', 'url.forbidden_character'],
    ['https://client.example.com/c\u0000imd', 'url.forbidden_character'],
    ['https://client.example.com/c\u007fimd', 'url.forbidden_character'],
    ['https://client.example.com/c\u00a0imd', 'url.forbidden_character'],
    ['https://client.example.com\\cimd', 'url.forbidden_character'],
    ['https://client.example.com/a\\..\\cimd', 'url.forbidden_character'],
    ['https://clïent.example.com/cimd', 'url.forbidden_character'],
    ['https://client.example.com/<cimd>', 'url.forbidden_character'],
    ['https:client.example.com/cimd', 'url.malformed'],
    ['https:/client.example.com/cimd', 'url.malformed'],
    ['https:///cimd', 'url.host_required'],
    ['https://:443/cimd', 'url.host_required'],
    ['https://client.example.com:99999/cimd', 'url.malformed'],
    ['https://client.example.com:port/cimd', 'url.malformed'],
    ['https://client.example.com/%zz', 'url.malformed'],
    ['https://client.example.com/%', 'url.malformed'],
    ['client.example.com/cimd', 'url.malformed'],
    ['/cimd.json', 'url.malformed'],
    ['', 'url.malformed'],
  ])('refuses %j with %s', (url, rule) => {
    expect(errorRules(url)).toContain(rule);
  });

  it.each([undefined, null, 42, { href: 'https://h/x' }])(
    'refuses the non-string %j as url.malformed',
    (value) => {
      expect(errorRules(value)).toEqual(['url.malformed']);
    },
  );

  it('reports every problem, not only the first', () => {
    expect(errorRules('https://u@h/#')).toEqual(['url.no_userinfo', 'url.path_required', 'url.fragment']);
  });

  it('warns about a query string, even a bare "?"', () => {
    expect(validateClientIdUrl('https://h/cimd?v=1')).toMatchObject({
      ok: true,
      warnings: [{ rule: 'url.query' }],
    });
    expect(warningRules('https://h/cimd?')).toEqual(['url.query']);
    expect(warningRules('https://h/cimd#?x')).toEqual([]);
  });

  it('names the offending value in every finding', () => {
    const result = validateClientIdUrl('https://@evil.example/x');
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors[0]!.value).toBe('https://@evil.example/x');
      expect(result.errors[0]!.message).toContain('https://@evil.example/x');
    }
  });
});
