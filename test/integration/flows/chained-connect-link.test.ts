import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userDigest } from '../../../functions/core/proxy/connect-required.ts';
import { type AuthorizationFixture, startAuthorizationFixture } from '../../support/authorization-fixture.ts';
import { TEST_CLIENT } from '../../support/gateway-tokens.ts';
import { pkcePair } from '../../support/http-browser.ts';
import { expectRefusal } from '../../support/refusals.ts';

/**
 * The authorize step's chained connect (a person not yet connected to the route): its link is
 * signed and names the person, so it goes on from wherever it is opened, for that person only.
 */
describe('the chained connect link of an authorization', () => {
  let fx: AuthorizationFixture;
  let link: URL;

  beforeAll(async () => {
    fx = await startAuthorizationFixture({
      config: () => ({ mcpClients: [{ ...TEST_CLIENT, redirectUris: [...TEST_CLIENT.redirectUris] }] }),
    });
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it('is signed and names the person who authorized', async () => {
    const carol = fx.browser();
    const authorize = new URL(`${fx.A}/.pomerium/mcp/authorize`);
    authorize.search = new URLSearchParams({
      response_type: 'code',
      client_id: TEST_CLIENT.clientId,
      redirect_uri: 'http://127.0.0.1:1/callback',
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      state: 'chained',
    }).toString();
    const end = await carol.follow(authorize, 'carol', (u) => u.pathname === '/.pomerium/connect', {
      consent: 'allow',
    });
    link = end.url;
    expect(link.pathname).toBe('/.pomerium/connect');
    expect(link.searchParams.get('for')).toBe(userDigest(fx.userId('carol')));
    expect(link.searchParams.get('sig')).toBeTruthy();
    // Opened from anywhere by that person, it goes on to the upstream's authorization server.
    const went = await carol.request(link, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(went.status).toBe(303);
    expect(went.headers.get('location')?.startsWith(fx.demo.upstream.issuer)).toBe(true);
  });

  it('refuses another signed-in person (403 other_user), whichever site opened it', async () => {
    const dave = fx.browser();
    await dave.follow(new URL(`${fx.A}/.pomerium/connections`), 'dave');
    const sites: Record<string, string>[] = [
      {},
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-origin' },
    ];
    for (const headers of sites) {
      const res = await dave.request(link, { headers });
      expectRefusal(res, 403, 'other_user');
      expect(res.headers.get('location')).toBeNull();
    }
  });
});
