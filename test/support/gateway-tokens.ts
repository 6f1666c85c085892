import { caFetch, type HttpBrowser, pkcePair } from './http-browser.ts';

/** A pre-registered MCP client for tests that need gateway tokens quickly (add it to `mcpClients`). */
export const TEST_CLIENT = {
  clientId: 'mcp-edge-test-cli',
  name: 'MCP Edge test CLI',
  redirectUris: ['http://127.0.0.1/callback'],
} as const;

export interface GatewayTokens {
  readonly access_token: string;
  readonly refresh_token?: string;
  readonly expires_in: number;
  readonly scope: string;
}

/**
 * Gets a gateway access token for one person on one route, as an MCP client would: the
 * authorization code flow with PKCE through the browser (sign-in at the demo IdP as `login`, the
 * upstream connect the first time, the consent page), then the token endpoint. Each person needs
 * their own `browser` (cookie jar). The client must be in the config's `mcpClients`
 * (default {@link TEST_CLIENT}).
 */
export async function gatewayTokens(
  browser: HttpBrowser,
  route: string,
  login: string,
  options: { clientId?: string; resource?: string } = {},
): Promise<GatewayTokens> {
  const clientId = options.clientId ?? TEST_CLIENT.clientId;
  const redirectUri = 'http://127.0.0.1:1/callback';
  const { verifier, challenge } = pkcePair();
  const url = new URL(`${route}/.pomerium/mcp/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 'test',
    ...(options.resource ? { resource: options.resource } : {}),
  }).toString();
  const callback = await browser.authorize(url, redirectUri, login, { consent: 'allow' });
  const code = callback.searchParams.get('code');
  if (!code) throw new Error(`no code: ${callback.search}`);
  const res = await caFetch(browser.agent)(`${route}/.pomerium/mcp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      code_verifier: verifier,
      client_id: clientId,
    }),
  });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as GatewayTokens;
}
