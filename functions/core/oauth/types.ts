/** A WHATWG-style fetch; production passes the SSRF-guarded one, tests the same with a local CA. */
export type OutboundFetch = (url: string, init?: RequestInit) => Promise<Response>;

/** An expected failure, returned rather than thrown (STYLE.md §5). */
export interface Failure<C extends string = string> {
  readonly ok: false;
  readonly code: C;
  readonly message: string;
}

export type Result<T, C extends string = string> = ({ readonly ok: true } & T) | Failure<C>;

export function fail<C extends string>(code: C, message: string): Failure<C> {
  return { ok: false, code, message };
}
