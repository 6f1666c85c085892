import { describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { describeRoute } from '../../../functions/core/routes.ts';
import {
  csrfToken,
  isSameSitePost,
  readForm,
  wantsJson,
} from '../../../functions/core/web/request-context.ts';

const route = describeRoute({ from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' });
const session = randomToken();

function post(headers: Record<string, string>) {
  return new Request(`${route.origin}/.pomerium/disconnect`, { method: 'POST', headers });
}
const withToken = (token = csrfToken(session)) => new URLSearchParams({ csrf: token });

describe('csrfToken', () => {
  it('is derived from the session: stable for one, different for another, never the session id itself', () => {
    expect(csrfToken(session)).toBe(csrfToken(session));
    expect(csrfToken(session)).not.toBe(csrfToken(randomToken()));
    expect(csrfToken(session)).not.toContain(session);
    expect(csrfToken(session)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe('isSameSitePost', () => {
  it.each([
    ['no Origin and no Sec-Fetch-Site (an older browser)', {}],
    ['its own Origin', { origin: route.origin }],
    ['Sec-Fetch-Site same-origin', { 'sec-fetch-site': 'same-origin' }],
    ['Sec-Fetch-Site none (typed by the person)', { 'sec-fetch-site': 'none' }],
    ['both, agreeing', { origin: route.origin, 'sec-fetch-site': 'same-origin' }],
  ])('accepts the page’s token with %s', (_what, headers) => {
    expect(isSameSitePost(post(headers), route, withToken(), session)).toBe(true);
  });

  it.each([
    ['another site’s Origin', { origin: 'https://evil.example' }],
    ['a sibling subdomain’s Origin', { origin: 'https://evil.mcp.example.com' }],
    ['the same host on another port', { origin: 'https://mcp.example.com:8443' }],
    ['plain http', { origin: 'http://mcp.example.com' }],
    ['Origin: null (a sandboxed frame, a no-referrer page)', { origin: 'null' }],
    ['an Origin in other case', { origin: 'HTTPS://MCP.EXAMPLE.COM' }],
    ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }],
    ['Sec-Fetch-Site same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }],
    [
      'its own Origin but Sec-Fetch-Site cross-site',
      { origin: route.origin, 'sec-fetch-site': 'cross-site' },
    ],
  ])('refuses the right token with %s', (_what, headers) => {
    expect(isSameSitePost(post(headers), route, withToken(), session)).toBe(false);
  });

  it('refuses a missing, wrong or other session’s token, even from its own origin', () => {
    const own = post({ origin: route.origin, 'sec-fetch-site': 'same-origin' });
    expect(isSameSitePost(own, route, new URLSearchParams(), session)).toBe(false);
    expect(isSameSitePost(own, route, withToken(''), session)).toBe(false);
    expect(isSameSitePost(own, route, withToken(randomToken()), session)).toBe(false);
    expect(isSameSitePost(own, route, withToken(csrfToken(randomToken())), session)).toBe(false);
    expect(isSameSitePost(own, route, withToken(session), session)).toBe(false);
  });
});

describe('readForm', () => {
  const form = (body: string, type = 'application/x-www-form-urlencoded') =>
    new Request(`${route.origin}/x`, { method: 'POST', headers: { 'content-type': type }, body });

  it('reads a small urlencoded form', async () => {
    expect((await readForm(form('csrf=a&client_id=b')))?.get('client_id')).toBe('b');
    expect((await readForm(form('a=1', 'application/x-www-form-urlencoded; charset=utf-8')))?.get('a')).toBe(
      '1',
    );
  });

  it('refuses another content type and a body over the limit, counted in bytes', async () => {
    expect(await readForm(form('{"csrf":"a"}', 'application/json'))).toBeUndefined();
    expect(await readForm(form('a=1', 'text/plain'))).toBeUndefined();
    expect(await readForm(form(`a=${'x'.repeat(4094)}`))).toBeDefined();
    expect(await readForm(form(`a=${'x'.repeat(4095)}`))).toBeUndefined();
    // 2,048 characters, 4,098 bytes.
    expect(await readForm(form(`a=${'é'.repeat(2048)}`))).toBeUndefined();
  });
});

describe('wantsJson', () => {
  const asking = (accept: string) => new Request(route.origin, { headers: { accept } });
  it('is true only when JSON is asked for and HTML is not', () => {
    expect(wantsJson(asking('application/json'))).toBe(true);
    expect(wantsJson(asking('text/html,application/json'))).toBe(false);
    expect(wantsJson(asking('*/*'))).toBe(false);
    expect(wantsJson(new Request(route.origin))).toBe(false);
  });
});
