import * as oauth from 'oauth4webapi';

/**
 * What went wrong in an oauth4webapi call, decided on the library's error classes and their
 * stable fields (`ResponseBodyError.error`, `AuthorizationResponseError.error`, the challenges of a
 * `WWWAuthenticateChallengeError`, `OperationProcessingError.code`) — never on message text, which
 * the library may reword in any release.
 */
export type OAuthFailure =
  /** The server answered with an OAuth error body (RFC 6749 §5.2): its `error` and HTTP status. */
  | { readonly kind: 'error_response'; readonly error: string; readonly status: number }
  /** The authorization response is an error (RFC 6749 §4.1.2.1): its `error`. */
  | { readonly kind: 'authorization_error'; readonly error: string }
  /** A 401/403 with `WWW-Authenticate`: the first challenge's `error` parameter, when it has one. */
  | { readonly kind: 'challenge'; readonly status: number; readonly error?: string }
  /**
   * An answer that fails oauth4webapi's checks (not JSON, a missing or mismatched field, an
   * unexpected status — a 5xx lands here, even with an OAuth error body): its code, and the HTTP
   * status when the failure carries the answer.
   */
  | { readonly kind: 'invalid_response'; readonly code: string; readonly status?: number }
  /** Something oauth4webapi refuses to do (a plain-http endpoint, an implicit-flow answer…). */
  | { readonly kind: 'unsupported'; readonly code: string }
  /** No usable answer at all: a network error, a timeout, an abort, anything else thrown. */
  | { readonly kind: 'no_answer' };

export function classifyOAuthFailure(error: unknown): OAuthFailure {
  if (error instanceof oauth.ResponseBodyError) {
    return { kind: 'error_response', error: error.error, status: error.status };
  }
  if (error instanceof oauth.AuthorizationResponseError) {
    return { kind: 'authorization_error', error: error.error };
  }
  if (error instanceof oauth.WWWAuthenticateChallengeError) {
    const first = (error.cause as readonly oauth.WWWAuthenticateChallenge[] | undefined)?.[0];
    const challengeError = first?.parameters.error;
    return {
      kind: 'challenge',
      status: error.status,
      ...(typeof challengeError === 'string' ? { error: challengeError } : {}),
    };
  }
  if (error instanceof oauth.UnsupportedOperationError) return { kind: 'unsupported', code: error.code };
  if (error instanceof oauth.OperationProcessingError) {
    // Refusing plain http (HTTP_REQUEST_FORBIDDEN, REQUEST_PROTOCOL_FORBIDDEN) is a choice of ours, not the answer's fault.
    if (error.code === oauth.HTTP_REQUEST_FORBIDDEN || error.code === oauth.REQUEST_PROTOCOL_FORBIDDEN) {
      return { kind: 'unsupported', code: error.code };
    }
    const status = error.cause instanceof Response ? error.cause.status : undefined;
    return {
      kind: 'invalid_response',
      code: error.code ?? oauth.INVALID_RESPONSE,
      ...(status === undefined ? {} : { status }),
    };
  }
  return { kind: 'no_answer' };
}

/** The OAuth error an error answer or challenge carried, if any. */
export function oauthErrorCode(failure: OAuthFailure): string | undefined {
  return failure.kind === 'error_response' ||
    failure.kind === 'authorization_error' ||
    failure.kind === 'challenge'
    ? failure.error
    : undefined;
}

/**
 * The RFC 6749 error codes (§4.1.2.1 and §5.2) and RFC 6750 §3.1's, as a fixed vocabulary: an
 * upstream's error is shown to a person only when it is one of these, so its text is never echoed.
 */
const KNOWN_ERRORS = new Set([
  'invalid_request',
  'unauthorized_client',
  'access_denied',
  'unsupported_response_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
  'invalid_client',
  'invalid_grant',
  'unsupported_grant_type',
  'invalid_target',
  'invalid_token',
  'insufficient_scope',
  'interaction_required',
  'login_required',
  'consent_required',
]);

/** An upstream's OAuth error as a detail for people: the RFC code, or `other` for anything else. */
export function knownOAuthError(error: string | undefined): string | undefined {
  if (error === undefined) return undefined;
  return KNOWN_ERRORS.has(error) ? error : 'other';
}
