import { describe, expect, it } from 'vitest';
import { bearerChallengeParams, parseChallenges } from '../../../functions/core/oauth/www-authenticate.ts';

describe('parseChallenges (RFC 9110 §11.6.1)', () => {
  it('reads one Bearer challenge with quoted and token parameters', () => {
    expect(
      parseChallenges(
        'Bearer resource_metadata="https://up.example/.well-known/oauth-protected-resource/mcp", scope=mcp',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          resource_metadata: 'https://up.example/.well-known/oauth-protected-resource/mcp',
          scope: 'mcp',
        },
      },
    ]);
  });

  it('keeps the parameters of a later challenge out of Bearer (regression: they were merged)', () => {
    const header = 'Bearer realm="api", error="invalid_token", Basic realm="other", charset="UTF-8"';
    expect(parseChallenges(header)).toEqual([
      { scheme: 'bearer', params: { realm: 'api', error: 'invalid_token' } },
      { scheme: 'basic', params: { realm: 'other', charset: 'UTF-8' } },
    ]);
    expect(bearerChallengeParams(header)).toEqual({ realm: 'api', error: 'invalid_token' });
  });

  it('finds Bearer after another challenge, and keeps quoted commas and escapes inside a value', () => {
    const header = 'Basic realm="a, b", Bearer scope="read write", error_description="say \\"no\\", twice"';
    expect(bearerChallengeParams(header)).toEqual({
      scope: 'read write',
      error_description: 'say "no", twice',
    });
    expect(parseChallenges(header)[0]).toEqual({ scheme: 'basic', params: { realm: 'a, b' } });
  });

  it('reads a token68 challenge and the challenge after it', () => {
    expect(parseChallenges('Negotiate abc123+/==, Bearer error="insufficient_scope", scope="repo"')).toEqual([
      { scheme: 'negotiate', token68: 'abc123+/==', params: {} },
      { scheme: 'bearer', params: { error: 'insufficient_scope', scope: 'repo' } },
    ]);
  });

  it('handles schemes without parameters, spaces around "=", case and empty list elements', () => {
    expect(parseChallenges(' , Basic ,BEARER  Scope = "x" ,,  DPoP algs="ES256"')).toEqual([
      { scheme: 'basic', params: {} },
      { scheme: 'bearer', params: { scope: 'x' } },
      { scheme: 'dpop', params: { algs: 'ES256' } },
    ]);
  });

  it('keeps the first of a repeated parameter and stops at malformed input without throwing', () => {
    expect(bearerChallengeParams('Bearer scope="a", scope="b"')).toEqual({ scope: 'a' });
    expect(parseChallenges('Bearer scope="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges(null)).toEqual([]);
    expect(bearerChallengeParams('Basic realm="x"')).toBeUndefined();
  });

  // Regression: parameters named like Object.prototype members were dropped (`name in params`).
  it('keeps parameters named constructor or __proto__ as plain parameters, polluting nothing', () => {
    const params = bearerChallengeParams('Bearer constructor="x", __proto__="y", error="invalid_token"');
    expect(params).toEqual(
      Object.fromEntries([
        ['constructor', 'x'],
        ['__proto__', 'y'],
        ['error', 'invalid_token'],
      ]),
    );
    expect(Object.keys(params!)).toEqual(['constructor', '__proto__', 'error']);
    expect(({} as Record<string, unknown>).y).toBeUndefined();
  });

  it('reads an empty quoted value, a value with "=" in a quoted string, and stops at a bare "="', () => {
    expect(bearerChallengeParams('Bearer error="", scope="a=b"')).toEqual({ error: '', scope: 'a=b' });
    expect(parseChallenges('Bearer scope=abc=, error="x"')).toEqual([
      { scheme: 'bearer', params: { scope: 'abc' } },
    ]);
  });

  it('parses a hostile header of 100 KB in linear time', () => {
    const started = performance.now();
    expect(parseChallenges(`Bearer ${'a=b, '.repeat(20_000)}`)[0]!.params).toEqual({ a: 'b' });
    parseChallenges(`Bearer a=${','.repeat(100_000)}`);
    parseChallenges(`${'Basic, '.repeat(15_000)}Bearer error="x"`);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
