import { readLimited } from '../http/body.ts';
import { jsonResponse } from '../http/errors.ts';
import { PUBLIC_CORS } from './metadata.ts';

export { readLimited };

/**
 * RFC 6749 §5.2 error answers of the token, registration and revocation endpoints: JSON,
 * `Cache-Control: no-store`, CORS for browser clients. `challenge` is the `WWW-Authenticate` value
 * for a client that authenticated with the `Authorization` header: §5.2 wants 401 with a challenge
 * in the scheme it used.
 */
export function oauthError(status: number, error: string, description: string, challenge?: string): Response {
  const headers: Record<string, string> = { ...PUBLIC_CORS, pragma: 'no-cache' };
  if (challenge) headers['www-authenticate'] = challenge;
  return jsonResponse(status, { error, error_description: description }, headers);
}

/** A successful token-endpoint-style JSON answer (never cached). */
export function oauthJson(status: number, body: unknown): Response {
  return jsonResponse(status, body, { ...PUBLIC_CORS, pragma: 'no-cache' });
}

/** Reads a urlencoded body of at most `maxBytes`; refuses repeated parameters (RFC 6749 §3.2). */
export async function readOAuthForm(
  request: Request,
  maxBytes = 16_384,
): Promise<{ ok: true; form: URLSearchParams } | { ok: false; response: Response }> {
  const type = (request.headers.get('content-type') ?? '').toLowerCase();
  if (!type.startsWith('application/x-www-form-urlencoded')) {
    return {
      ok: false,
      response: oauthError(
        400,
        'invalid_request',
        'Send the parameters as application/x-www-form-urlencoded.',
      ),
    };
  }
  const bytes = await readLimited(request, maxBytes);
  if (!bytes)
    return { ok: false, response: oauthError(413, 'invalid_request', 'The request body is too large.') };
  const form = new URLSearchParams(new TextDecoder().decode(bytes));
  const seen = new Set<string>();
  for (const key of form.keys()) {
    if (seen.has(key)) {
      return {
        ok: false,
        response: oauthError(
          400,
          'invalid_request',
          `The parameter "${key.slice(0, 40)}" appears more than once.`,
        ),
      };
    }
    seen.add(key);
  }
  return { ok: true, form };
}
