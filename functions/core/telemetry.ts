/**
 * What the domain tells the operator about the request it serves: facts only the core knows
 * (how long the upstream took, whether a refresh worked, that a token was issued). The adapter
 * that received the request attaches an implementation (functions/adapters/telemetry.ts turns it
 * into Powertools metrics and the request's log line); without one, every call is a no-op, so
 * the core and its tests need nothing. No method takes a token, a code or any other secret.
 */
export interface Telemetry {
  /** The token endpoint issued an access token. */
  tokenIssued(grantType: 'authorization_code' | 'refresh_token'): void;
  /** The proxy sent the request upstream and got the response head after `latencyMs`. */
  upstreamResponded(status: number, latencyMs: number): void;
  /** The upstream could not be used (`upstream_refused`, `upstream_timeout`, …) after `latencyMs`. */
  upstreamFailed(code: string, latencyMs: number): void;
  /** The answer returned is the upstream's own (its status and body relayed), not a refusal of ours. */
  relayingUpstream(): void;
  /** An upstream token refresh was tried (this request won the vault's lease), with its outcome. */
  upstreamRefresh(outcome: UpstreamRefreshOutcome): void;
}

/** A refresh grant's outcome as the vault classified it; `error` when it could not be tried. */
export type UpstreamRefreshOutcome = 'tokens' | 'invalid_grant' | 'unavailable' | 'refused' | 'error';

export const NO_TELEMETRY: Telemetry = {
  tokenIssued() {},
  upstreamResponded() {},
  upstreamFailed() {},
  relayingUpstream() {},
  upstreamRefresh() {},
};

const attached = new WeakMap<Request, Telemetry>();

/** Called by the adapter that built `request`: what the core reports about it goes to `telemetry`. */
export function attachTelemetry(request: Request, telemetry: Telemetry): void {
  attached.set(request, telemetry);
}

/** The telemetry of a request, or the no-op one when nobody listens (unit tests, the CLI). */
export function telemetryOf(request: Request): Telemetry {
  return attached.get(request) ?? NO_TELEMETRY;
}
