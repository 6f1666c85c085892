import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import { fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import {
  type DemoIdentityProvider,
  startDemoIdentityProvider,
} from '../../../functions/local/demo/identity-provider.ts';
import { type DevCertificate, ensureDevCertificate } from '../../../functions/local/tls.ts';
import { caFetch, HttpBrowser, pkcePair } from '../../support/http-browser.ts';

const REDIRECT_URIS = [
  'https://localhost:8443/.pomerium/login/callback',
  'https://localhost:8444/.pomerium/login/callback',
];

let dir: string;
let consoleSpies: MockInstance[];
let cert: DevCertificate;
let idp: DemoIdentityProvider;
let browser: HttpBrowser;
let metadata: Record<string, unknown>;

beforeAll(async () => {
  consoleSpies = [vi.spyOn(console, 'warn'), vi.spyOn(console, 'info')];
  dir = await mkdtemp(join(tmpdir(), 'mcp-edge-demo-idp-'));
  cert = await ensureDevCertificate(dir);
  idp = await startDemoIdentityProvider({ port: 0, tls: cert, redirectUris: REDIRECT_URIS });
  browser = new HttpBrowser(cert.ca);
  const res = await undiciFetch(`${idp.issuer}/.well-known/openid-configuration`, {
    dispatcher: browser.agent,
  });
  metadata = (await res.json()) as Record<string, unknown>;
});

afterAll(async () => {
  for (const spy of consoleSpies ?? []) spy.mockRestore();
  await idp?.stop();
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});

function authorizationUrl(params: Record<string, string>): URL {
  const url = new URL(String(metadata.authorization_endpoint));
  url.search = new URLSearchParams({
    client_id: idp.clientId,
    response_type: 'code',
    scope: 'openid email profile',
    ...params,
  }).toString();
  return url;
}

describe('demo identity provider', () => {
  it('publishes OpenID discovery for its https://localhost issuer with PKCE S256 only', () => {
    expect(idp.issuer).toMatch(/^https:\/\/localhost:\d+$/);
    expect(metadata).toMatchObject({
      issuer: idp.issuer,
      code_challenge_methods_supported: ['S256'],
      authorization_response_iss_parameter_supported: true,
    });
    expect(metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile']));
  });

  it('registers one public client with every route login callback', async () => {
    const client = await idp.provider.Client.find(idp.clientId);
    expect(client?.redirectUris).toEqual(REDIRECT_URIS);
    expect(client?.clientAuthMethod).toBe('none');
  });

  it('refuses an authorization request without PKCE', async () => {
    const res = await browser.request(
      authorizationUrl({ redirect_uri: REDIRECT_URIS[0]!, state: 's', nonce: 'n' }),
    );
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('invalid_request');
  });

  it('refuses a redirect URI it does not know', async () => {
    const { challenge } = pkcePair();
    const res = await browser.request(
      authorizationUrl({
        redirect_uri: 'https://localhost:9999/.pomerium/login/callback',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      }),
    );
    expect(res.status).toBe(400);
    expect(res.body).toContain('invalid_redirect_uri');
  });

  it('signs in any login name without a consent page and puts sub, email and name in the ID token', async () => {
    const signInBrowser = new HttpBrowser(cert.ca);
    try {
      const { verifier, challenge } = pkcePair();
      const nonce = randomBytes(16).toString('base64url');
      const redirectUri = REDIRECT_URIS[1]!;
      const callback = await signInBrowser.authorize(
        authorizationUrl({
          redirect_uri: redirectUri,
          state: 'st',
          nonce,
          code_challenge: challenge,
          code_challenge_method: 'S256',
        }),
        redirectUri,
        'alice',
      );
      expect(signInBrowser.prompts).toEqual(['login']);
      expect(callback.searchParams.get('iss')).toBe(idp.issuer);

      const res = await undiciFetch(String(metadata.token_endpoint), {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: callback.searchParams.get('code')!,
          redirect_uri: redirectUri,
          code_verifier: verifier,
          client_id: idp.clientId,
        }),
        dispatcher: signInBrowser.agent,
      });
      expect(res.status).toBe(200);
      const tokens = (await res.json()) as { id_token: string };
      const jwks = jose.createRemoteJWKSet(new URL(String(metadata.jwks_uri)), {
        [jose.customFetch]: caFetch(signInBrowser.agent),
      });
      const { payload } = await jose.jwtVerify(tokens.id_token, jwks, {
        issuer: idp.issuer,
        audience: idp.clientId,
      });
      expect(payload).toMatchObject({ sub: 'alice', email: 'alice@example.com', name: 'Alice', nonce });
    } finally {
      await signInBrowser.close();
    }
  });

  it('prints no oidc-provider notices', () => {
    const printed = consoleSpies.flatMap((spy) => spy.mock.calls.map((call) => String(call[0])));
    expect(printed.filter((line) => line.includes('oidc-provider'))).toEqual([]);
  });
});
