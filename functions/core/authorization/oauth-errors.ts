import { readLimited } from '../http/body.ts';
import { jsonResponse } from '../http/errors.ts';
import { type OAuthRefusalCode, REFUSAL_HEADER, REFUSALS, refusalMessage } from '../refusals.ts';
import { PUBLIC_CORS } from './metadata.ts';

export { readLimited };

/**
 * RFC 6749 §5.2 error answers of the token, registration and revocation endpoints: JSON,
 * `Cache-Control: no-store`, CORS for browser clients. `error` is the RFC code the catalogue gives
 * the refusal; the gateway's own code is in the `x-mcp-edge-refusal` header. `challenge` is the
 * `WWW-Authenticate` value for a client that authenticated with the `Authorization` header: §5.2
 * wants 401 with a challenge in the scheme it used.
 */
export function oauthError(
  code: OAuthRefusalCode,
  options: { challenge?: string; detail?: string } = {},
): Response {
  const { status, oauth } = REFUSALS[code];
  const headers: Record<string, string> = { ...PUBLIC_CORS, pragma: 'no-cache', [REFUSAL_HEADER]: code };
  if (options.challenge) headers['www-authenticate'] = options.challenge;
  return jsonResponse(
    status,
    { error: oauth, error_description: refusalMessage(code, options.detail) },
    headers,
  );
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
      response: oauthError('form_not_urlencoded'),
    };
  }
  const bytes = await readLimited(request, maxBytes);
  if (!bytes) return { ok: false, response: oauthError('request_too_large') };
  const form = new URLSearchParams(new TextDecoder().decode(bytes));
  const seen = new Set<string>();
  for (const key of form.keys()) {
    if (seen.has(key)) {
      // The name is not repeated back: it is the request's own text.
      return { ok: false, response: oauthError('parameter_repeated') };
    }
    seen.add(key);
  }
  return { ok: true, form };
}
