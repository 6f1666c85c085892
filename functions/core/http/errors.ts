/**
 * The one error base that knows its HTTP status and renders itself as JSON
 * (`{ error, error_description }`, the OAuth error shape). Handlers translate at the boundary.
 */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  toResponse(): Response {
    return jsonResponse(this.status, { error: this.code, error_description: this.message }, this.headers);
  }
}

/** A JSON response that is never cached and never sniffed. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      ...headers,
    },
  });
}

/** Turns anything thrown into a response: HttpErrors render themselves, the rest is a generic 500 with no detail. */
export function errorToResponse(error: unknown): Response {
  if (error instanceof HttpError) return error.toResponse();
  return jsonResponse(500, {
    error: 'server_error',
    error_description: 'The gateway could not complete the request.',
  });
}
