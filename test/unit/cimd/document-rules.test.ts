import { describe, expect, it } from 'vitest';
import {
  MAX_DOCUMENT_BYTES,
  PLACEHOLDER_CLIENT_ID,
  validateClientMetadata,
  validateClientMetadataBytes,
} from '../../../functions/core/cimd/document-rules.ts';

const ID = 'https://client.example.com/oauth/metadata.json';
const good = () => ({
  client_id: ID,
  client_name: 'Example Client',
  redirect_uris: ['https://client.example.com/callback'],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: 'none',
});

const errorRules = (doc: unknown, expected?: string) => {
  const result = validateClientMetadata(doc, expected);
  return result.ok ? [] : result.errors.map((e) => e.rule);
};

describe('validateClientMetadata', () => {
  it('accepts a minimal public client and returns the document', () => {
    const result = validateClientMetadata(good(), ID);
    expect(result).toEqual({ ok: true, document: good(), warnings: [] });
  });

  it('keeps extra fields', () => {
    const result = validateClientMetadata(
      { ...good(), software_statement_hint: 'x', x_custom: { a: 1 } },
      ID,
    );
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.document).toHaveProperty('x_custom', { a: 1 });
  });

  it.each([
    ['null', null],
    ['an array', [good()]],
    ['a string', JSON.stringify(good())],
    ['a number', 1],
  ])('refuses %s as doc.not_object', (_kind, doc) => {
    expect(errorRules(doc)).toEqual(['doc.not_object']);
  });

  it('requires client_id to be a string', () => {
    const { client_id: _, ...rest } = good();
    expect(errorRules(rest, ID)).toEqual(['doc.client_id_required']);
    expect(errorRules({ ...good(), client_id: 7 }, ID)).toEqual(['doc.client_id_required']);
  });

  it.each([
    'https://client.example.com:443/oauth/metadata.json',
    'https://CLIENT.example.com/oauth/metadata.json',
    'https://client.example.com/oauth/metadata.json/',
    'https://client.example.com/oauth/./metadata.json',
    'https://client.example.com/oauth/metadata.json ',
    'https://client.example.com/oauth/%6Detadata.json',
  ])('compares client_id to the URL as exact strings: %j differs', (id) => {
    expect(errorRules({ ...good(), client_id: id }, ID)).toEqual(['doc.client_id_mismatch']);
  });

  it('does not compare client_id when no URL is given', () => {
    expect(validateClientMetadata({ ...good(), client_id: 'https://other.example/x' }).ok).toBe(true);
  });

  it('warns about the cimd create placeholder', () => {
    const result = validateClientMetadata({ ...good(), client_id: PLACEHOLDER_CLIENT_ID });
    expect(result).toMatchObject({ ok: true, warnings: [{ rule: 'doc.client_id_placeholder' }] });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['blank', '   '],
    ['not a string', ['Example']],
  ])('requires client_name (%s)', (_case, name) => {
    expect(errorRules({ ...good(), client_name: name }, ID)).toEqual(['doc.client_name_required']);
  });

  it.each([
    ['missing', undefined],
    ['empty', []],
    ['a string', 'https://client.example.com/callback'],
  ])('requires a non-empty redirect_uris array (%s)', (_case, uris) => {
    expect(errorRules({ ...good(), redirect_uris: uris }, ID)).toEqual(['doc.redirect_uris_required']);
  });

  it.each([
    ['http://client.example.com/cb', 'doc.redirect_uri_scheme'],
    ['http://127.0.0.1.evil.example/cb', 'doc.redirect_uri_scheme'],
    ['http://10.0.0.1/cb', 'doc.redirect_uri_scheme'],
    ['myapp://callback', 'doc.redirect_uri_scheme'],
    ['javascript:alert(1)', 'doc.redirect_uri_scheme'],
    ['https://client.example.com/cb#x', 'doc.redirect_uri_fragment'],
    ['/callback', 'doc.redirect_uri_malformed'],
    [42, 'doc.redirect_uri_malformed'],
  ])('refuses the redirect URI %j with %s', (uri, rule) => {
    expect(errorRules({ ...good(), redirect_uris: ['https://ok.example/cb', uri] }, ID)).toEqual([rule]);
  });

  it.each([
    'http://127.0.0.1/callback',
    'http://127.0.0.1:53682/callback',
    'http://[::1]:8080/callback',
    'http://localhost:3000/callback',
    'https://client.example.com/cb?x=1',
  ])('accepts the redirect URI %s', (uri) => {
    expect(validateClientMetadata({ ...good(), redirect_uris: [uri] }, ID).ok).toBe(true);
  });

  it.each(['client_secret', 'client_secret_expires_at'])('refuses %s', (member) => {
    const result = validateClientMetadata({ ...good(), [member]: 'hunter2-secret-value' }, ID);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.errors.map((e) => e.rule)).toEqual(['doc.client_secret_forbidden']);
      expect(JSON.stringify(result.errors)).not.toContain('hunter2');
    }
  });

  it.each(['client_secret_basic', 'client_secret_post', 'client_secret_jwt'])(
    'refuses the shared-secret auth method %s',
    (method) => {
      expect(errorRules({ ...good(), token_endpoint_auth_method: method }, ID)).toEqual([
        'doc.auth_method_shared_secret',
      ]);
    },
  );

  it('refuses auth methods other than none and private_key_jwt', () => {
    expect(errorRules({ ...good(), token_endpoint_auth_method: 'tls_client_auth' }, ID)).toEqual([
      'doc.auth_method_unsupported',
    ]);
    expect(errorRules({ ...good(), token_endpoint_auth_method: 3 }, ID)).toEqual(['doc.field_type']);
  });

  it('accepts private_key_jwt with public keys, and warns without any keys', () => {
    const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1' }] };
    expect(
      validateClientMetadata({ ...good(), token_endpoint_auth_method: 'private_key_jwt', jwks }, ID),
    ).toMatchObject({
      ok: true,
      warnings: [],
    });
    expect(
      validateClientMetadata({ ...good(), token_endpoint_auth_method: 'private_key_jwt' }, ID),
    ).toMatchObject({
      ok: true,
      warnings: [{ rule: 'doc.private_key_jwt_without_keys' }],
    });
  });

  it.each(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'])(
    'refuses the private key member %s in jwks',
    (member) => {
      const jwks = {
        keys: [
          { kty: 'RSA', n: 'n', e: 'AQAB' },
          { kty: 'RSA', n: 'n', e: 'AQAB', [member]: 'secret' },
        ],
      };
      const result = validateClientMetadata({ ...good(), jwks }, ID);
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.errors.map((e) => e.rule)).toEqual(['doc.jwks_private_key']);
        expect(result.errors[0]!.value).toBe('jwks.keys[1]');
      }
    },
  );

  it('refuses jwks together with jwks_uri, and a jwks without keys', () => {
    expect(
      errorRules({ ...good(), jwks: { keys: [] }, jwks_uri: 'https://client.example.com/jwks' }, ID),
    ).toEqual(['doc.jwks_conflict']);
    expect(errorRules({ ...good(), jwks: { kty: 'EC' } }, ID)).toEqual(['doc.field_type']);
  });

  it.each(['client_uri', 'logo_uri', 'tos_uri', 'policy_uri', 'jwks_uri'])(
    'requires %s to be https',
    (field) => {
      expect(errorRules({ ...good(), [field]: 'http://client.example.com/x' }, ID)).toEqual([
        'doc.uri_not_https',
      ]);
      expect(errorRules({ ...good(), [field]: 'data:text/html,x' }, ID)).toEqual(['doc.uri_not_https']);
      expect(errorRules({ ...good(), [field]: 'not a url' }, ID)).toEqual(['doc.uri_malformed']);
      expect(errorRules({ ...good(), [field]: ['https://x.example'] }, ID)).toEqual(['doc.field_type']);
      expect(validateClientMetadata({ ...good(), [field]: 'https://client.example.com/x' }, ID).ok).toBe(
        true,
      );
    },
  );

  it.each([
    ['grant_types', 'authorization_code'],
    ['response_types', 'code'],
    ['contacts', 'a@example.com'],
    ['scope', ['read']],
  ])('checks the type of %s', (field, value) => {
    expect(errorRules({ ...good(), [field]: value }, ID)).toEqual(['doc.field_type']);
  });

  it('reports every problem at once', () => {
    const rules = errorRules(
      { client_id: 'https://x.example/y', client_secret: 's', redirect_uris: ['http://x.example/cb'] },
      ID,
    );
    expect(rules.sort()).toEqual(
      [
        'doc.client_name_required',
        'doc.client_id_mismatch',
        'doc.client_secret_forbidden',
        'doc.redirect_uri_scheme',
      ].sort(),
    );
  });
});

describe('validateClientMetadataBytes', () => {
  it('accepts a document as bytes or text', () => {
    expect(validateClientMetadataBytes(JSON.stringify(good()), ID).ok).toBe(true);
    expect(validateClientMetadataBytes(new TextEncoder().encode(JSON.stringify(good())), ID).ok).toBe(true);
  });

  it('refuses more than 5 KiB', () => {
    const doc = JSON.stringify({ ...good(), padding: 'x'.repeat(MAX_DOCUMENT_BYTES) });
    expect(validateClientMetadataBytes(doc, ID)).toMatchObject({
      ok: false,
      errors: [{ rule: 'doc.too_large' }],
    });
    const exact = JSON.stringify({ ...good(), padding: '' });
    const fits = JSON.stringify({ ...good(), padding: 'x'.repeat(MAX_DOCUMENT_BYTES - exact.length) });
    expect(new TextEncoder().encode(fits).byteLength).toBe(MAX_DOCUMENT_BYTES);
    expect(validateClientMetadataBytes(fits, ID).ok).toBe(true);
  });

  it('refuses invalid JSON and invalid UTF-8', () => {
    expect(validateClientMetadataBytes('{"client_id":', ID)).toMatchObject({
      ok: false,
      errors: [{ rule: 'doc.invalid_json' }],
    });
    expect(validateClientMetadataBytes(new Uint8Array([0x7b, 0xff, 0x7d]), ID)).toMatchObject({
      ok: false,
      errors: [{ rule: 'doc.invalid_json' }],
    });
  });

  it('refuses JSON that is not an object', () => {
    expect(validateClientMetadataBytes('[]', ID)).toMatchObject({
      ok: false,
      errors: [{ rule: 'doc.not_object' }],
    });
  });
});
