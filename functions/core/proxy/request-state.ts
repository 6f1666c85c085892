import { CONNECT_INPUT_KEY, type RequestState, requestName } from './connect-required.ts';
import type { ClientMessage } from './jsonrpc.ts';
import type { SealBinding, Sealer } from './sealed-values.ts';

/**
 * The retry of a 2026-07-28 request the gateway answered `input_required` (connect first): it
 * carries the gateway's sealed `requestState` and an `inputResponses` entry under the gateway's key.
 * Those were never the upstream's, so they are taken out before the request goes upstream. A
 * `requestState` that does not open under this person and route is the upstream's own and stays.
 *
 * Returns the body to forward (unchanged when there is nothing of the gateway's), or `undefined`
 * when the state is the gateway's but expired or sealed for another call.
 */
export function withoutGatewayRetryState(
  body: Uint8Array,
  message: ClientMessage,
  sealer: Sealer,
  bound: SealBinding,
  now: number,
): Uint8Array | undefined {
  const sealed = message.params?.requestState;
  if (typeof sealed !== 'string') return body;
  const state = sealer.open<RequestState>('request-state', bound, sealed);
  if (!state) return body;
  if (!(state.x > now) || state.m !== message.method || state.n !== requestName(message)) return undefined;
  const parsed = JSON.parse(new TextDecoder().decode(body)) as { params: Record<string, unknown> };
  const { requestState: _state, inputResponses, ...params } = parsed.params;
  const responses = { ...(inputResponses as Record<string, unknown> | undefined) };
  delete responses[CONNECT_INPUT_KEY];
  parsed.params = Object.keys(responses).length > 0 ? { ...params, inputResponses: responses } : params;
  return new TextEncoder().encode(JSON.stringify(parsed));
}
