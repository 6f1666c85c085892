import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSignIn } from '../../../functions/core/auth/signin.ts';
import type { SessionStore } from '../../../functions/core/store/sessions.ts';

describe('signing out of a Cognito user pool', () => {
  it('sends the browser to the hosted /logout with the app client and the route’s sign-out page, without a network call', async () => {
    const fetched: string[] = [];
    const signIn = createSignIn({
      idp: {
        issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEfGhI',
        clientId: '1example23456789',
        cognitoLogoutEndpoint: 'https://mcp-edge-example.auth.eu-west-1.amazoncognito.com/logout',
      },
      sessions: {} as SessionStore,
      transactionKey: randomBytes(32),
      fetch: async (url) => {
        fetched.push(url);
        throw new Error('no network in this test');
      },
    });
    const url = new URL((await signIn.logoutUrl('https://mcp.example.com/.pomerium/logout')) ?? '');
    expect(`${url.origin}${url.pathname}`).toBe(
      'https://mcp-edge-example.auth.eu-west-1.amazoncognito.com/logout',
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: '1example23456789',
      logout_uri: 'https://mcp.example.com/.pomerium/logout',
    });
    expect(fetched).toEqual([]);
  });

  it('gives no sign-out address when the provider cannot be reached (the fresh-login mark still applies)', async () => {
    const signIn = createSignIn({
      idp: { issuer: 'https://login.example.com', clientId: 'c' },
      sessions: {} as SessionStore,
      transactionKey: randomBytes(32),
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    expect(await signIn.logoutUrl('https://mcp.example.com/.pomerium/logout')).toBeUndefined();
  });
});
