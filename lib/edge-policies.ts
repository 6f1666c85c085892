import {
  CacheCookieBehavior,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  OriginRequestCookieBehavior,
  OriginRequestHeaderBehavior,
  OriginRequestPolicy,
  OriginRequestQueryStringBehavior,
  ResponseHeadersPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';
import { CIMD_CACHE_TTL, HSTS_MAX_AGE } from './defaults.ts';

/**
 * The CloudFront policies every route's distribution shares (an account holds at most 20 custom
 * policies of each kind, so they are not per route).
 */
export class EdgePolicies extends Construct {
  /**
   * For cached documents (the CIMD): the key is the path alone — no cookies, headers or query
   * strings — so one copy per route host serves every client. The edge honours the origin's
   * `s-maxage` up to a day and keeps a response without one for an hour.
   */
  public readonly cachedDocument: CachePolicy;
  /**
   * Forwards only `Host` to the origin, so API Gateway picks the route's custom domain. `Host` in
   * an origin request policy is not part of the cache key (the distribution answers for one host).
   */
  public readonly hostOnly: OriginRequestPolicy;
  /** HSTS (two years, subdomains) and `nosniff` on every response. */
  public readonly securityHeaders: ResponseHeadersPolicy;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.cachedDocument = new CachePolicy(this, 'CachedDocument', {
      comment: 'MCP Edge: cached documents (CIMD), keyed by path only',
      minTtl: CIMD_CACHE_TTL.min,
      defaultTtl: CIMD_CACHE_TTL.default,
      maxTtl: CIMD_CACHE_TTL.max,
      cookieBehavior: CacheCookieBehavior.none(),
      headerBehavior: CacheHeaderBehavior.none(),
      queryStringBehavior: CacheQueryStringBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    this.hostOnly = new OriginRequestPolicy(this, 'HostOnly', {
      comment: 'MCP Edge: forward Host only, so API Gateway resolves the custom domain',
      cookieBehavior: OriginRequestCookieBehavior.none(),
      headerBehavior: OriginRequestHeaderBehavior.allowList('Host'),
      queryStringBehavior: OriginRequestQueryStringBehavior.none(),
    });

    this.securityHeaders = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'MCP Edge: HSTS and nosniff',
      securityHeadersBehavior: {
        strictTransportSecurity: {
          accessControlMaxAge: HSTS_MAX_AGE,
          includeSubdomains: true,
          override: true,
        },
        contentTypeOptions: { override: true },
      },
    });
  }
}
