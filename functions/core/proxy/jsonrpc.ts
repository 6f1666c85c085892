import { jsonResponse } from '../http/errors.ts';
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
    return { ok: false, response: jsonRpcError(400, null, -32700, 'The body is not JSON.') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return {
      ok: false,
      response: jsonRpcError(400, null, -32600, 'Send one JSON-RPC message per request (no batches).'),
    };
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
