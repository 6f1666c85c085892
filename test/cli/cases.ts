/** Hostile client ID URLs and bad documents, each with the rule that must refuse it. */

export const ID = 'https://client.example.com/oauth/client.json';
export const good = (extra: Record<string, unknown> = {}) => ({
  client_id: ID,
  client_name: 'Example',
  redirect_uris: ['https://client.example.com/cb'],
  token_endpoint_auth_method: 'none',
  ...extra,
});

export const HOSTILE_URLS: [string, string][] = [
  ['http://client.example.com/c.json', 'url.https_only'],
  ['https://@client.example.com/c.json', 'url.no_userinfo'],
  ['https://user:pw@client.example.com/c.json', 'url.no_userinfo'],
  ['https:///c.json', 'url.host_required'],
  ['https:client.example.com/c.json', 'url.malformed'],
  ['https://client.example.com', 'url.path_required'],
  ['https://client.example.com/', 'url.path_required'],
  ['https://client.example.com/a/../c.json', 'url.dot_segment'],
  ['https://client.example.com/a/%2e%2e/c.json', 'url.dot_segment'],
  ['https://client.example.com/a/.%2e/c.json', 'url.dot_segment'],
  ['https://client.example.com/a/%2E/c.json', 'url.dot_segment'],
  ['https://client.example.com/c.json#', 'url.fragment'],
  ['https://client.example.com/c.json#top', 'url.fragment'],
  ['https://client.example.com/c .json', 'url.forbidden_character'],
  [' https://client.example.com/c.json', 'url.forbidden_character'],
  ['https://client.example.com/c.json\u0007', 'url.forbidden_character'],
  ['https://client.example.com\\c.json', 'url.forbidden_character'],
];

export const BAD_DOCUMENTS: [string, unknown, string][] = [
  ['not JSON', '{"client_id":', 'doc.invalid_json'],
  ['an array', [good()], 'doc.not_object'],
  ['too large', good({ padding: 'x'.repeat(6000) }), 'doc.too_large'],
  ['no client_id', { client_name: 'x', redirect_uris: ['https://a.example/cb'] }, 'doc.client_id_required'],
  ['no client_name', good({ client_name: undefined }), 'doc.client_name_required'],
  ['empty redirect_uris', good({ redirect_uris: [] }), 'doc.redirect_uris_required'],
  ['a client_secret', good({ client_secret: 's3cr3t' }), 'doc.client_secret_forbidden'],
  ['client_secret_expires_at', good({ client_secret_expires_at: 0 }), 'doc.client_secret_forbidden'],
  [
    'client_secret_basic',
    good({ token_endpoint_auth_method: 'client_secret_basic' }),
    'doc.auth_method_shared_secret',
  ],
  ['a private JWK', good({ jwks: { keys: [{ kty: 'oct', k: 'AAAA' }] } }), 'doc.jwks_private_key'],
  ['an http logo_uri', good({ logo_uri: 'http://client.example.com/l.png' }), 'doc.uri_not_https'],
  ['an http tos_uri', good({ tos_uri: 'http://client.example.com/tos' }), 'doc.uri_not_https'],
  [
    'a non-loopback http redirect',
    good({ redirect_uris: ['http://client.example.com/cb'] }),
    'doc.redirect_uri_scheme',
  ],
  ['a client_id with a fragment', good({ client_id: `${ID}#x` }), 'url.fragment'],
  ['a client_id without a path', good({ client_id: 'https://client.example.com' }), 'url.path_required'],
];
