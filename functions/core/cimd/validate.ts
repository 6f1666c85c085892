import { type SafeFetchOptions, safeFetch } from '../http/safe-fetch.ts';
import { type ClientMetadata, MAX_DOCUMENT_BYTES, validateClientMetadataBytes } from './document-rules.ts';
import { type Finding, type RuleDescription, validateClientIdUrl } from './url-rules.ts';

/**
 * The CIMD validator's public surface: the URL rules, the document rules, and fetch-then-validate
 * for a hosted client ID (draft-ietf-oauth-client-id-metadata-document-02 §3–§6). The CLI's
 * `cimd validate` and the authorization-server side both use it.
 */
export type { ClientMetadata, ClientMetadataResult } from './document-rules.ts';
export {
  DOCUMENT_RULES,
  MAX_DOCUMENT_BYTES,
  PLACEHOLDER_CLIENT_ID,
  validateClientMetadata,
  validateClientMetadataBytes,
} from './document-rules.ts';
export type { Finding, RuleDescription, ValidationResult } from './url-rules.ts';
export { URL_RULES, validateClientIdUrl } from './url-rules.ts';

/** Codes a fetch can fail with (from {@link safeFetch}), plus the fetch-stage warning. */
export const FETCH_RULES: readonly RuleDescription[] = [
  {
    rule: 'ssrf.private_address',
    description: 'every address the host resolves to is public (no loopback, private, link-local, ...)',
    severity: 'error',
  },
  { rule: 'fetch.dns', description: 'the host resolves', severity: 'error' },
  {
    rule: 'fetch.tls',
    description: 'the server certificate is trusted and names the host',
    severity: 'error',
  },
  { rule: 'fetch.network', description: 'the connection succeeds', severity: 'error' },
  {
    rule: 'fetch.redirect_refused',
    description: 'no redirect (3xx): redirects are not followed',
    severity: 'error',
  },
  { rule: 'fetch.status', description: 'the status is 200', severity: 'error' },
  {
    rule: 'fetch.too_large',
    description: `at most ${MAX_DOCUMENT_BYTES} bytes, declared or counted`,
    severity: 'error',
  },
  {
    rule: 'fetch.timeout',
    description: 'the whole exchange ends within the timeout (10 s)',
    severity: 'error',
  },
  { rule: 'doc.content_type', description: 'Content-Type is application/json', severity: 'warning' },
];

/** The caching-related response headers, as sent. */
export interface CachingHeaders {
  cacheControl?: string;
  expires?: string;
  date?: string;
  etag?: string;
  lastModified?: string;
  contentType?: string;
}

export type FetchValidationResult =
  | {
      ok: true;
      document: ClientMetadata;
      warnings: Finding[];
      /** The address the document was fetched from. */
      address: string;
      caching: CachingHeaders;
      /** How long the document may be cached; `0` means not at all. */
      cacheLifetimeSeconds: number;
    }
  | {
      ok: false;
      /** Where it stopped: the URL rules, the fetch, or the document rules. */
      stage: 'url' | 'fetch' | 'document';
      errors: Finding[];
      warnings: Finding[];
      /** The address refused (`ssrf.private_address`) or fetched from, when there was one. */
      address?: string;
      caching?: CachingHeaders;
    };

/** Cache lifetime bounds (DESIGN.md): a document is kept at least 30 s and at most 24 h. */
export const MIN_CACHE_SECONDS = 30;
export const MAX_CACHE_SECONDS = 86_400;

type HeaderSource = Headers | Record<string, string | undefined>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/**
 * How long an authorization server may cache a fetched document, from its response headers:
 * `Cache-Control: no-store` → `0` (do not cache); else `max-age` (`s-maxage` is for shared HTTP
 * caches, which an authorization server is not); else `Expires` minus `Date` (or now); an invalid
 * `Expires`, `no-cache` and no freshness information at all count as stale. The result is bounded
 * to [{@link MIN_CACHE_SECONDS}, {@link MAX_CACHE_SECONDS}], so even a stale document absorbs a burst
 * of requests and none is trusted for more than a day.
 */
export function cacheLifetimeSeconds(headers: HeaderSource, now: number = Date.now()): number {
  const directives = parseCacheControl(header(headers, 'cache-control') ?? '');
  if (directives.has('no-store')) return 0;
  let seconds = 0;
  const maxAge = directives.get('max-age');
  if (directives.has('no-cache')) {
    seconds = 0;
  } else if (maxAge !== undefined && /^\d+$/.test(maxAge)) {
    seconds = Number(maxAge);
  } else {
    const expires = header(headers, 'expires');
    if (expires !== undefined) {
      const at = Date.parse(expires);
      const date = Date.parse(header(headers, 'date') ?? '');
      const base = Number.isNaN(date) ? now : date;
      seconds = Number.isNaN(at) ? 0 : Math.floor((at - base) / 1000);
    }
  }
  return Math.min(MAX_CACHE_SECONDS, Math.max(MIN_CACHE_SECONDS, seconds));
}

/** `public, max-age=60, no-cache="x"` → Map { public → '', max-age → '60', no-cache → 'x' }; first wins. */
function parseCacheControl(value: string): Map<string, string> {
  const directives = new Map<string, string>();
  for (const part of value.split(',')) {
    const [rawName, ...rest] = part.split('=');
    const name = rawName!.trim().toLowerCase();
    if (!name || directives.has(name)) continue;
    directives.set(
      name,
      rest
        .join('=')
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  return directives;
}

function cachingHeaders(headers: Headers): CachingHeaders {
  const picked: CachingHeaders = {};
  const names = {
    cacheControl: 'cache-control',
    expires: 'expires',
    date: 'date',
    etag: 'etag',
    lastModified: 'last-modified',
    contentType: 'content-type',
  } as const;
  for (const [key, name] of Object.entries(names) as [keyof CachingHeaders, string][]) {
    const value = headers.get(name);
    if (value !== null) picked[key] = value;
  }
  return picked;
}

/**
 * Validates a hosted client ID: the URL rules, then an SSRF-safe fetch (at most 5 KiB unless
 * `maxBytes` says otherwise), then the document rules with `client_id` compared to `url` exactly.
 * Never throws for an expected failure; a failure is never cacheable.
 */
export async function fetchAndValidateClientMetadata(
  url: string,
  fetchOptions: SafeFetchOptions = {},
): Promise<FetchValidationResult> {
  const urlResult = validateClientIdUrl(url);
  const warnings = [...urlResult.warnings];
  if (!urlResult.ok) return { ok: false, stage: 'url', errors: urlResult.errors, warnings };

  const fetched = await safeFetch(url, { maxBytes: MAX_DOCUMENT_BYTES, ...fetchOptions });
  if (!fetched.ok) {
    return {
      ok: false,
      stage: 'fetch',
      errors: [{ rule: fetched.code, message: fetched.message, value: url }],
      warnings,
      ...(fetched.address ? { address: fetched.address } : {}),
    };
  }

  const caching = cachingHeaders(fetched.headers);
  const mediaType = caching.contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    warnings.push({
      rule: 'doc.content_type',
      message: `Content-Type should be application/json, got ${JSON.stringify(caching.contentType ?? '(none)')}`,
      value: caching.contentType ?? '',
    });
  }
  const doc = validateClientMetadataBytes(fetched.body, url);
  warnings.push(...doc.warnings);
  if (!doc.ok)
    return { ok: false, stage: 'document', errors: doc.errors, warnings, address: fetched.address, caching };
  return {
    ok: true,
    document: doc.document,
    warnings,
    address: fetched.address,
    caching,
    cacheLifetimeSeconds: cacheLifetimeSeconds(fetched.headers),
  };
}
