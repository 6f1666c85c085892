import { describe, expect, it } from 'vitest';
import {
  clearCookie,
  cookieNames,
  MAX_COOKIE_HEADER_BYTES,
  readCookies,
  secureCookie,
} from '../../../functions/core/web/cookies.ts';

/** RFC 6265 §4.1.1: a cookie name is an RFC 2616 token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

describe('cookieNames', () => {
  const a = cookieNames('https://localhost:8443');
  const b = cookieNames('https://localhost:8444');

  it('pins every cookie to its host with the __Host- prefix, as a valid cookie name', () => {
    for (const name of Object.values(a)) {
      expect(name.startsWith('__Host-')).toBe(true);
      expect(name).toMatch(TOKEN);
    }
  });

  it('gives each cookie of a route its own name, stable across calls', () => {
    expect(new Set(Object.values(a)).size).toBe(Object.values(a).length);
    expect(cookieNames('https://localhost:8443')).toEqual(a);
  });

  // Browsers do not separate cookies by port: routes on one host would share a name.
  it('keeps routes on the same host but another port apart', () => {
    for (const [key, name] of Object.entries(a)) expect(b[key as keyof typeof b]).not.toBe(name);
  });
});

describe('secureCookie and clearCookie', () => {
  it('sets a secret the browser keeps to itself: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', () => {
    const cookie = secureCookie('__Host-x', 'v', 3600);
    const [pair, ...attributes] = cookie.split('; ');
    expect(pair).toBe('__Host-x=v');
    expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=3600', 'Path=/', 'SameSite=Lax', 'Secure']);
    expect(cookie).not.toMatch(/domain=/i);
  });

  it('clears with the same attributes and Max-Age=0 (a __Host- cookie is only replaced by a matching one)', () => {
    const cookie = clearCookie('__Host-x');
    expect(cookie.split('; ').sort()).toEqual([
      'HttpOnly',
      'Max-Age=0',
      'Path=/',
      'SameSite=Lax',
      'Secure',
      '__Host-x=',
    ]);
  });
});

describe('readCookies', () => {
  const read = (header: string | null) => Object.fromEntries(readCookies(header));

  it('reads name=value pairs, trimming spaces around names and values', () => {
    expect(read('a=1; b=2;c=3')).toEqual({ a: '1', b: '2', c: '3' });
    expect(read('  d = 4  ')).toEqual({ d: '4' });
  });

  it('keeps the first value of a repeated name (the most specific path comes first)', () => {
    expect(read('a=1; a=2')).toEqual({ a: '1' });
  });

  it('keeps names case-sensitive: __host- is not __Host-', () => {
    expect(read('__host-x=evil; __Host-x=good')).toEqual({ '__host-x': 'evil', '__Host-x': 'good' });
  });

  it('keeps "=" inside a value and the quotes of a quoted value', () => {
    expect(read('f=1=2; e="q"')).toEqual({ f: '1=2', e: '"q"' });
  });

  it.each([
    ['a pair without "="', 'c; d=4', { d: '4' }],
    ['an empty name', '=x; b=2', { b: '2' }],
    ['empty list elements', ';;; g=3 ;', { g: '3' }],
    ['nothing', '', {}],
    ['no header', null, {}],
  ])('skips %s', (_what, header, expected) => {
    expect(read(header)).toEqual(expected);
  });

  it('ignores a header longer than API Gateway lets through, rather than parsing it', () => {
    const session = '__Host-s=abc';
    expect(
      read(`${session}; pad=${'x'.repeat(MAX_COOKIE_HEADER_BYTES - session.length - 6)}`),
    ).toHaveProperty('__Host-s');
    expect(read(`${session}; pad=${'x'.repeat(MAX_COOKIE_HEADER_BYTES)}`)).toEqual({});
  });

  it('parses a thousand pairs quickly', () => {
    const started = performance.now();
    expect(readCookies(Array.from({ length: 1000 }, (_, i) => `k${i}=v`).join('; ')).size).toBe(1000);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
