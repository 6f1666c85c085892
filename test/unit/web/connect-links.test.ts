import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CONNECT_LINK_TTL_MS, createConnectLinks } from '../../../functions/core/connect/connect-links.ts';
import { describeRoute } from '../../../functions/core/routes.ts';

const route = describeRoute({ from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' });
const other = describeRoute({ from: 'https://tools.example.com', to: 'https://up.example.net/mcp' });
const links = createConnectLinks(randomBytes(32));
const now = Date.parse('2026-12-02T00:00:00Z');
const signed = () =>
  new URL(links.url(route, { return_to: '/.pomerium/connections', for: 'abc', scope: 'repo' }, now));

describe('the gateway’s signed connect links', () => {
  it('verifies a link it signed, for its route, until it expires', () => {
    expect(links.verify(route, signed(), now)).toBe(true);
    expect(links.verify(route, signed(), now + CONNECT_LINK_TTL_MS)).toBe(true);
    expect(links.verify(route, signed(), now + CONNECT_LINK_TTL_MS + 1)).toBe(false);
  });

  it('refuses a link whose parameters were changed, added, removed or repeated', () => {
    const changed = signed();
    changed.searchParams.set('scope', 'admin');
    const added = signed();
    added.searchParams.set('extra', '1');
    const removed = signed();
    removed.searchParams.delete('scope');
    const repeated = signed();
    repeated.searchParams.append('scope', 'repo');
    const longer = signed();
    longer.searchParams.set('exp', String(now + 10 * CONNECT_LINK_TTL_MS));
    for (const url of [changed, added, removed, repeated, longer])
      expect(links.verify(route, url, now)).toBe(false);
  });

  it('refuses a link for another route, under another key, or without a signature', () => {
    expect(links.verify(other, signed(), now)).toBe(false);
    expect(createConnectLinks(randomBytes(32)).verify(route, signed(), now)).toBe(false);
    const bare = signed();
    bare.searchParams.delete('sig');
    expect(links.verify(route, bare, now)).toBe(false);
    bare.searchParams.set('sig', '');
    expect(links.verify(route, bare, now)).toBe(false);
  });
});
