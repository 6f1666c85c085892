import { jsonResponse } from '../http/errors.ts';
import { type JsonRpcRefusalCode, REFUSAL_HEADER, REFUSALS } from '../refusals.ts';
import { MCP_CORS } from './inbound-auth.ts';

/** A JSON-RPC id as the client sent it (echoed in errors), or null when unknown. */
export type JsonRpcId = string | number | null;

/** What the proxy reads of a client message; the bytes are forwarded unchanged. */
export interface ClientMessage {
  readonly id: JsonRpcId;
  readonly method?: string;
  readonly params?: Record<string, unknown>;
  /** False for a JSON-RPC response or notification (nothing to answer with an error). */
  readonly isRequest: boolean;
}

export type ParsedBody =
  | { readonly ok: true; readonly message: ClientMessage }
  | { readonly ok: false; readonly response: Response };

/** Parses a POSTed MCP message (one JSON-RPC object). */
export function parseClientMessage(bytes: Uint8Array): ParsedBody {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { ok: false, response: jsonRpcRefusal('body_not_json', null) };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, response: jsonRpcRefusal('jsonrpc_invalid', null) };
  }
  const message = value as Record<string, unknown>;
  const rawId = message.id;
  const id: JsonRpcId = typeof rawId === 'string' || typeof rawId === 'number' ? rawId : null;
  const method = typeof message.method === 'string' ? message.method : undefined;
  const params =
    typeof message.params === 'object' && message.params !== null && !Array.isArray(message.params)
      ? (message.params as Record<string, unknown>)
      : undefined;
  return {
    ok: true,
    message: {
      id,
      ...(method ? { method } : {}),
      ...(params ? { params } : {}),
      isRequest: method !== undefined && 'id' in message,
    },
  };
}

/** A JSON-RPC error answer with an HTTP status, echoing the request id (never cached). */
export function jsonRpcError(
  status: number,
  id: JsonRpcId,
  code: number,
  message: string,
  data?: unknown,
  headers: Record<string, string> = {},
): Response {
  return jsonResponse(
    status,
    { jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } },
    { ...MCP_CORS, ...headers },
  );
}

/**
 * A refusal of the catalogue as a JSON-RPC error: its status, JSON-RPC code and message, the
 * request id echoed, the gateway's code in `error.data.error` and the `x-mcp-edge-refusal` header.
 */
export function jsonRpcRefusal(
  code: JsonRpcRefusalCode,
  id: JsonRpcId,
  data: Record<string, unknown> = {},
): Response {
  const { status, jsonrpc, message } = REFUSALS[code];
  return jsonRpcError(status, id, jsonrpc!, message, { error: code, ...data }, { [REFUSAL_HEADER]: code });
}
