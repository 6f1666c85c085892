import { describe, expect, it } from 'vitest';
import { describeRoute } from '../../../functions/core/routes.ts';
import { isSameOriginPath } from '../../../functions/core/store/state.ts';
import { CONNECTIONS_PATH, parseReturnTo } from '../../../functions/core/web/request-context.ts';

const route = describeRoute({ from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' });

describe('parseReturnTo (open-redirect protection)', () => {
  it('takes an absent or empty value as the default page', () => {
    expect(parseReturnTo(null, route)).toEqual({ ok: true, path: CONNECTIONS_PATH });
    expect(parseReturnTo('', route)).toEqual({ ok: true, path: CONNECTIONS_PATH });
    expect(parseReturnTo(null, route, '/elsewhere')).toEqual({ ok: true, path: '/elsewhere' });
  });

  it.each([
    ['/.pomerium/connections', '/.pomerium/connections'],
    ['/.pomerium/mcp/authorize?client_id=a&state=b', '/.pomerium/mcp/authorize?client_id=a&state=b'],
    ['/x?y=1#fragment', '/x?y=1'],
    ['/a/../b', '/b'],
    ['/./', '/'],
    ['/é', '/%C3%A9'],
    ['/%2F%2Fevil.example', '/%2F%2Fevil.example'],
    ['/%5cevil.example', '/%5cevil.example'],
  ])('accepts the same-origin path %j, normalised to %j', (value, path) => {
    expect(parseReturnTo(value, route)).toEqual({ ok: true, path });
  });

  it.each([
    ['a protocol-relative URL', '//evil.example'],
    ['a protocol-relative URL with a path', '//evil.example/.pomerium/connections'],
    ['an absolute URL elsewhere', 'https://evil.example/'],
    ['an absolute URL on the route itself', 'https://mcp.example.com/x'],
    ['a backslash that browsers read as a slash', '/\\evil.example'],
    ['a leading backslash', '\\/evil.example'],
    ['a scheme', 'javascript:alert(1)'],
    ['a relative path', 'connections'],
    ['dot segments that normalise to //', '/..//evil.example'],
    ['encoded dot segments that normalise to //', '/%2e%2e//evil.example'],
    ['a CR LF (header injection)', '/\r\nSet-Cookie: x=y'],
    ['a tab', '/\tx'],
    ['a NUL', '/\u0000x'],
    ['a DEL', '/\u007fx'],
  ])('refuses %s', (_what, value) => {
    expect(parseReturnTo(value, route)).toEqual({ ok: false });
  });

  it('refuses an overlong value (4 KiB is the most it carries)', () => {
    expect(parseReturnTo(`/${'a'.repeat(4095)}`, route).ok).toBe(true);
    expect(parseReturnTo(`/${'a'.repeat(4096)}`, route)).toEqual({ ok: false });
  });
});

describe('isSameOriginPath', () => {
  it.each(['/', '/x', '/x?y=%2F%2F', '/%2e%2e/x'])('accepts %j', (value) => {
    expect(isSameOriginPath(value, route.origin)).toBe(true);
  });

  it.each([
    '',
    'x',
    '//evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'https://evil.example/',
    'https://mcp.example.com/',
  ])('refuses %j', (value) => {
    expect(isSameOriginPath(value, route.origin)).toBe(false);
  });

  // A browser resolves "/..//x" on this origin; emitted after normalising it would be "//x". That is
  // why parseReturnTo checks the normalised path again (above).
  it('judges the raw value: dot segments are left to parseReturnTo’s normalised check', () => {
    expect(isSameOriginPath('/..//evil.example', route.origin)).toBe(true);
    expect(parseReturnTo('/..//evil.example', route)).toEqual({ ok: false });
  });
});
