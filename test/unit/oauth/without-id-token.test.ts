import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import { withoutIdToken } from '../../../functions/core/oauth/without-id-token.ts';

const as: oauth.AuthorizationServer = {
  issuer: 'https://as.example',
  token_endpoint: 'https://as.example/token',
};
const client: oauth.Client = { client_id: 'https://gw.example/.well-known/mcp-client-metadata.json' };
// An ES256-signed ID token: oauth4webapi expects RS256 unless the metadata says otherwise.
const es256IdToken = `${Buffer.from('{"alg":"ES256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"a"}').toString('base64url')}.c2ln`;
const tokenResponse = () =>
  new Response(
    JSON.stringify({
      access_token: 'at',
      token_type: 'Bearer',
      refresh_token: 'rt',
      expires_in: 60,
      id_token: es256IdToken,
    }),
    { status: 200, headers: { 'content-type': 'application/json' } },
  );

describe('withoutIdToken', () => {
  it('regression: a token response with an ES256 ID token was refused after the code was spent', async () => {
    await expect(
      oauth.processAuthorizationCodeResponse(as, client, tokenResponse(), { requireIdToken: false }),
    ).rejects.toThrow();
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await withoutIdToken(tokenResponse()),
      {
        requireIdToken: false,
      },
    );
    expect(tokens).toMatchObject({ access_token: 'at', refresh_token: 'rt' });
    expect(tokens.id_token).toBeUndefined();
  });

  it('leaves error answers and non-JSON bodies alone', async () => {
    const error = new Response('{"error":"invalid_grant"}', {
      status: 400,
      headers: { 'content-type': 'application/json' },
    });
    expect(await withoutIdToken(error)).toBe(error);
    const odd = await withoutIdToken(
      new Response('not json', { status: 200, headers: { 'content-type': 'application/json' } }),
    );
    expect(await odd.text()).toBe('not json');
  });
});
