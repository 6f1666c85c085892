import { createHash } from 'node:crypto';
import { refusalJson } from '../http/errors.ts';
import { REFUSAL_HEADER } from '../refusals.ts';
import type { Route, RouteTable } from '../routes.ts';
import { generateCimd } from './generate.ts';

const ALLOW = 'GET, HEAD, OPTIONS';

/**
 * Lets CloudFront keep the document for a day and authorization servers revalidate hourly
 * (DESIGN.md "Generated CIMD"); the ETag makes revalidation a cheap 304.
 */
export const CIMD_CACHE_CONTROL = 'public, max-age=3600, s-maxage=86400';

const corsHeaders = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': `ETag, Cache-Control, ${REFUSAL_HEADER}`,
} as const;

interface Prepared {
  readonly body: string;
  readonly etag: string;
  /** Headers of a 200 and of a 304, built once. */
  readonly ok: readonly [string, string][];
  readonly notModified: readonly [string, string][];
}

/** The document's bytes, strong ETag and response headers for one route. */
export function prepareCimd(route: Route): Prepared {
  const body = JSON.stringify(generateCimd(route));
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
  const notModified: [string, string][] = [
    ...Object.entries(corsHeaders),
    ['content-type', 'application/json'],
    ['cache-control', CIMD_CACHE_CONTROL],
    ['etag', etag],
    ['x-content-type-options', 'nosniff'],
  ];
  return {
    body,
    etag,
    notModified,
    ok: [...notModified, ['content-length', String(Buffer.byteLength(body))]],
  };
}

/** RFC 9110 §13.1.2: If-None-Match uses weak comparison, and `*` matches any current representation. */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (!header) return false;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag.replace(/^W\//, '') === opaque;
  });
}

/**
 * Serves each route's Client ID Metadata Document. Documents and ETags are computed once,
 * so the request path is a map lookup and a header comparison.
 */
export function createCimdResponder(table: RouteTable): (request: Request) => Response {
  const prepared = new Map<string, Prepared>(table.routes.map((r) => [r.host.toLowerCase(), prepareCimd(r)]));

  return (request) => {
    const host = new URL(request.url).host;
    const route = table.forHost(host);
    const doc = route ? prepared.get(route.host.toLowerCase()) : undefined;
    if (!route || !doc) {
      return refusalJson('unknown_route', { headers: corsHeaders });
    }
    switch (request.method) {
      case 'OPTIONS':
        return new Response(null, {
          status: 204,
          headers: {
            ...corsHeaders,
            'access-control-allow-methods': ALLOW,
            'access-control-allow-headers': 'If-None-Match, Cache-Control',
            'access-control-max-age': '86400',
            allow: ALLOW,
          },
        });
      case 'GET':
      case 'HEAD':
        if (ifNoneMatchHits(request.headers.get('if-none-match'), doc.etag)) {
          return new Response(null, { status: 304, headers: doc.notModified as [string, string][] });
        }
        return new Response(request.method === 'HEAD' ? null : doc.body, {
          status: 200,
          headers: doc.ok as [string, string][],
        });
      default:
        return refusalJson('method_not_allowed', { headers: { allow: ALLOW, ...corsHeaders } });
    }
  };
}
