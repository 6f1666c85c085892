import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AccessTokenClaims } from '../../../functions/core/authorization/access-token.ts';
import { createConnectLinks } from '../../../functions/core/connect/connect-links.ts';
import { connectRequired, connectUrl, userDigest } from '../../../functions/core/proxy/connect-required.ts';
import { createSealer } from '../../../functions/core/proxy/sealed-values.ts';
import { describeRoute } from '../../../functions/core/routes.ts';

const route = describeRoute({
  from: 'https://mcp.example.com',
  to: 'https://up.example.net/mcp',
  name: 'Tools',
});
const claims = { sub: 'idp:alice', jti: 'j1' } as AccessTokenClaims;
const sealer = createSealer(randomBytes(32));
const links = createConnectLinks(randomBytes(32));
const call = { id: 7, method: 'tools/call', params: { name: 'echo' }, isRequest: true };

describe('connectRequired', () => {
  it('names the token’s person in the connect link, and the upstream’s missing scopes when it asked for more, signed', () => {
    const now = Date.now();
    const url = new URL(connectUrl(links, route, claims.sub, now, ['repo', 'read:org']));
    expect(url.origin + url.pathname).toBe('https://mcp.example.com/.pomerium/connect');
    expect(url.searchParams.get('for')).toBe(userDigest(claims.sub));
    expect(url.searchParams.get('scope')).toBe('repo read:org');
    expect(links.verify(route, url, now)).toBe(true);
    expect(new URL(connectUrl(links, route, claims.sub, now)).searchParams.has('scope')).toBe(false);
  });

  it('answers a 2025-11-25 client that declared URL elicitation with -32042 carrying the link (and the scopes)', async () => {
    const res = connectRequired(
      {
        route,
        claims,
        message: call,
        session: { e: true },
        request: new Request(route.resource),
        sealer,
        links,
      },
      'insufficient_scope',
      Date.now(),
      ['repo'],
    );
    // A 200 JSON-RPC answer; the call was not forwarded, and the header says why.
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mcp-edge-refusal')).toBe('upstream_scope_insufficient');
    const body = (await res.json()) as {
      id: number;
      error: { code: number; data: { elicitations: { mode: string; url: string; message: string }[] } };
    };
    expect(body.id).toBe(7);
    expect(body.error.code).toBe(-32042);
    const [elicitation] = body.error.data.elicitations;
    expect(elicitation?.mode).toBe('url');
    expect(new URL(elicitation!.url).searchParams.get('scope')).toBe('repo');
  });

  it('answers any other client with 401 invalid_token, so its re-authorization runs the connect', async () => {
    const res = connectRequired({
      route,
      claims,
      message: call,
      session: undefined,
      request: new Request(route.resource),
      sealer,
      links,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('x-mcp-edge-refusal')).toBe('connect_required');
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(res.headers.get('www-authenticate')).toContain(`resource_metadata="${route.resourceMetadataUrl}"`);
  });
});
