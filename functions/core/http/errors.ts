import { REFUSAL_HEADER, REFUSALS, type RefusalCode, refusalMessage } from '../refusals.ts';

/**
 * The one error base that knows its HTTP status and renders itself: a refusal of the catalogue
 * (functions/core/refusals.ts) as JSON `{ error: code, error_description }` with the code in the
 * `x-mcp-edge-refusal` header. Handlers translate at the boundary.
 */
export class HttpError extends Error {
  override readonly name: string = 'HttpError';
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly detail: string | undefined;

  constructor(
    readonly code: RefusalCode,
    options: { headers?: Record<string, string>; detail?: string; cause?: unknown } = {},
  ) {
    super(REFUSALS[code].message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = REFUSALS[code].status;
    this.headers = options.headers ?? {};
    this.detail = options.detail;
  }

  toResponse(): Response {
    return refusalJson(this.code, { headers: this.headers, detail: this.detail });
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

/** A refusal as the gateway's own JSON: `{ error: code, error_description }`, its status and header. */
export function refusalJson(
  code: RefusalCode,
  options: { headers?: Record<string, string>; detail?: string } = {},
): Response {
  return jsonResponse(
    REFUSALS[code].status,
    { error: code, error_description: refusalMessage(code, options.detail) },
    { ...options.headers, [REFUSAL_HEADER]: code },
  );
}

/** Turns anything thrown into a response: HttpErrors render themselves, the rest is a generic 500 with no detail. */
export function errorToResponse(error: unknown): Response {
  if (error instanceof HttpError) return error.toResponse();
  return refusalJson('server_error');
}
