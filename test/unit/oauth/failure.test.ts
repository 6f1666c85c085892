import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as oauth from 'oauth4webapi';
import { describe, expect, it } from 'vitest';
import {
  classifyOAuthFailure,
  knownOAuthError,
  oauthErrorCode,
} from '../../../functions/core/oauth/failure.ts';

/**
 * oauth4webapi's failures, classified by class and code (never by message text), each produced by
 * oauth4webapi itself from a real answer.
 */
const as: oauth.AuthorizationServer = {
  issuer: 'https://as.example',
  token_endpoint: 'https://as.example/token',
  authorization_response_iss_parameter_supported: true,
};
const client: oauth.Client = { client_id: 'gateway' };

async function failureOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('classifyOAuthFailure', () => {
  it('reads an OAuth error body by its error code and status (ResponseBodyError)', async () => {
    const error = await failureOf(() =>
      oauth.processRefreshTokenResponse(
        as,
        client,
        json(400, { error: 'invalid_grant', error_description: 'x' }),
      ),
    );
    expect(error).toBeInstanceOf(oauth.ResponseBodyError);
    const failure = classifyOAuthFailure(error);
    expect(failure).toEqual({ kind: 'error_response', error: 'invalid_grant', status: 400 });
    expect(oauthErrorCode(failure)).toBe('invalid_grant');
  });

  it('reads a 401 challenge by its first challenge’s error parameter (WWWAuthenticateChallengeError)', async () => {
    const error = await failureOf(() =>
      oauth.processAuthorizationCodeResponse(
        as,
        client,
        json(
          401,
          { error: 'invalid_client' },
          { 'www-authenticate': 'Basic realm="as", error="invalid_client"' },
        ),
      ),
    );
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const failure = classifyOAuthFailure(error);
    expect(failure).toEqual({ kind: 'challenge', status: 401, error: 'invalid_client' });
    expect(oauthErrorCode(failure)).toBe('invalid_client');
  });

  it('reads a challenge without an error parameter as a challenge with no error', async () => {
    const error = await failureOf(() =>
      oauth.processRefreshTokenResponse(
        as,
        client,
        json(401, {}, { 'www-authenticate': 'Bearer realm="as"' }),
      ),
    );
    expect(classifyOAuthFailure(error)).toEqual({ kind: 'challenge', status: 401 });
  });

  it('reads an error authorization response by its error code (AuthorizationResponseError)', async () => {
    const error = await failureOf(() =>
      oauth.validateAuthResponse(
        as,
        client,
        new URLSearchParams({ error: 'access_denied', iss: as.issuer }),
        oauth.skipStateCheck,
      ),
    );
    expect(error).toBeInstanceOf(oauth.AuthorizationResponseError);
    expect(classifyOAuthFailure(error)).toEqual({ kind: 'authorization_error', error: 'access_denied' });
  });

  it('reads an answer that fails the checks by its code (OperationProcessingError)', async () => {
    const notJson = await failureOf(() =>
      oauth.processRefreshTokenResponse(
        as,
        client,
        new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } }),
      ),
    );
    expect(notJson).toBeInstanceOf(oauth.OperationProcessingError);
    expect(classifyOAuthFailure(notJson)).toMatchObject({
      kind: 'invalid_response',
      code: (notJson as oauth.OperationProcessingError).code,
    });
    const wrongIssuer = await failureOf(() =>
      oauth.validateAuthResponse(
        as,
        client,
        new URLSearchParams({ code: 'c', iss: 'https://evil.example' }),
        oauth.skipStateCheck,
      ),
    );
    expect(classifyOAuthFailure(wrongIssuer)).toEqual({
      kind: 'invalid_response',
      code: oauth.INVALID_RESPONSE,
    });
  });

  it('keeps the HTTP status of an answer with an unexpected status: a 5xx is the server failing, not a bad answer', async () => {
    for (const res of [
      new Response('<html>oops</html>', { status: 500, headers: { 'content-type': 'text/html' } }),
      json(503, { error: 'temporarily_unavailable' }),
    ]) {
      const status = res.status;
      const error = await failureOf(() => oauth.processAuthorizationCodeResponse(as, client, res));
      expect(classifyOAuthFailure(error)).toEqual({
        kind: 'invalid_response',
        code: oauth.RESPONSE_IS_NOT_CONFORM,
        status,
      });
    }
  });

  it('reads what oauth4webapi refuses to do as unsupported (implicit answers, plain http)', async () => {
    const implicit = await failureOf(() =>
      oauth.validateAuthResponse(
        as,
        client,
        new URLSearchParams({ code: 'c', id_token: 'x', iss: as.issuer }),
        oauth.skipStateCheck,
      ),
    );
    expect(implicit).toBeInstanceOf(oauth.UnsupportedOperationError);
    expect(classifyOAuthFailure(implicit)).toEqual({
      kind: 'unsupported',
      code: oauth.UNSUPPORTED_OPERATION,
    });
    const http = await failureOf(() =>
      oauth.refreshTokenGrantRequest(
        { issuer: 'http://127.0.0.1:1', token_endpoint: 'http://127.0.0.1:1/token' },
        client,
        oauth.None(),
        'rt',
      ),
    );
    expect(classifyOAuthFailure(http)).toEqual({ kind: 'unsupported', code: oauth.HTTP_REQUEST_FORBIDDEN });
  });

  it('reads a refused connection, and anything else thrown, as no answer', async () => {
    const refused = await failureOf(() =>
      oauth.refreshTokenGrantRequest(
        { issuer: 'http://127.0.0.1:1', token_endpoint: 'http://127.0.0.1:1/token' },
        client,
        oauth.None(),
        'rt',
        { [oauth.allowInsecureRequests]: true },
      ),
    );
    expect(classifyOAuthFailure(refused)).toEqual({ kind: 'no_answer' });
    expect(classifyOAuthFailure(new Error('invalid_grant'))).toEqual({ kind: 'no_answer' });
    expect(classifyOAuthFailure('iss mismatch')).toEqual({ kind: 'no_answer' });
    expect(oauthErrorCode({ kind: 'no_answer' })).toBeUndefined();
  });

  it('does not depend on message text: a reworded error classifies the same', async () => {
    const error = (await failureOf(() =>
      oauth.processRefreshTokenResponse(as, client, json(400, { error: 'invalid_grant' })),
    )) as Error;
    Object.defineProperty(error, 'message', { value: 'something else entirely' });
    expect(classifyOAuthFailure(error)).toMatchObject({ kind: 'error_response', error: 'invalid_grant' });
  });
});

describe('knownOAuthError', () => {
  it('passes the RFC error codes and names anything else "other"', () => {
    expect(knownOAuthError('invalid_grant')).toBe('invalid_grant');
    expect(knownOAuthError('temporarily_unavailable')).toBe('temporarily_unavailable');
    expect(knownOAuthError('<script>alert(1)</script>')).toBe('other');
    expect(knownOAuthError('')).toBe('other');
    expect(knownOAuthError(undefined)).toBeUndefined();
  });
});

describe('error handling in the OAuth code', () => {
  // Regression: connect.ts told an issuer mismatch apart by matching /iss/ in oauth4webapi's message.
  it('classifies no error by its message text', async () => {
    const roots = ['oauth', 'connect', 'auth', 'vault', 'authorization', 'proxy', 'web'].map((d) =>
      join('functions/core', d),
    );
    const offenders: string[] = [];
    for (const root of roots) {
      for (const name of await readdir(root, { recursive: true })) {
        if (!name.endsWith('.ts')) continue;
        const text = await readFile(join(root, name), 'utf8');
        text.split('\n').forEach((line, i) => {
          if (
            /\.message\b.*\.(test|includes|match|startsWith|endsWith|indexOf)\(|\.(test|match|includes)\(.*\.message\b/.test(
              line,
            )
          )
            offenders.push(`${join(root, name)}:${i + 1}: ${line.trim()}`);
        });
      }
    }
    expect(offenders).toEqual([]);
  });
});
