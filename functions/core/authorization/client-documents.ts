import {
  type ClientMetadata,
  type FetchValidationResult,
  fetchAndValidateClientMetadata,
} from '../cimd/validate.ts';
import type { SafeFetchOptions } from '../http/safe-fetch.ts';

/**
 * MCP clients' Client ID Metadata Documents as the authorization server reads them: fetched with
 * the SSRF-safe fetcher and validated with the same rules as `cimd validate`, then kept for the
 * lifetime their response headers allow, bounded to [30 s, 24 h] (`no-store` → not kept).
 * Failures are never kept. Concurrent look-ups of one URL share one fetch. The cache holds at
 * most `maxEntries` documents (least recently used out first), per function instance.
 */
export interface ClientDocuments {
  get(clientId: string): Promise<FetchValidationResult>;
}

export interface ClientDocumentsOptions {
  readonly fetchOptions?: SafeFetchOptions;
  readonly maxEntries?: number;
  readonly now?: () => number;
  /** Replaces the fetch-and-validate step (tests count fetches through the real one instead). */
  readonly fetchAndValidate?: typeof fetchAndValidateClientMetadata;
}

interface Entry {
  readonly document: ClientMetadata;
  readonly result: FetchValidationResult & { ok: true };
  readonly expiresAt: number;
}

export function createClientDocuments(options: ClientDocumentsOptions = {}): ClientDocuments {
  const maxEntries = options.maxEntries ?? 500;
  const now = options.now ?? Date.now;
  const load = options.fetchAndValidate ?? fetchAndValidateClientMetadata;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<FetchValidationResult>>();

  const remember = (clientId: string, result: FetchValidationResult & { ok: true }) => {
    if (result.cacheLifetimeSeconds <= 0) return;
    cache.delete(clientId);
    cache.set(clientId, {
      document: result.document,
      result,
      expiresAt: now() + result.cacheLifetimeSeconds * 1000,
    });
    while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
  };

  return {
    get(clientId) {
      const hit = cache.get(clientId);
      if (hit && hit.expiresAt > now()) {
        // Re-insert: the Map's order is the recency order.
        cache.delete(clientId);
        cache.set(clientId, hit);
        return Promise.resolve(hit.result);
      }
      if (hit) cache.delete(clientId);
      let pending = inFlight.get(clientId);
      if (!pending) {
        pending = load(clientId, options.fetchOptions ?? {})
          .then((result) => {
            if (result.ok) remember(clientId, result);
            return result;
          })
          .finally(() => inFlight.delete(clientId));
        inFlight.set(clientId, pending);
      }
      return pending;
    },
  };
}
