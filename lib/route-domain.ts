import { Duration, Validations } from 'aws-cdk-lib';
import {
  BasePathMapping,
  DomainName,
  EndpointType,
  type RestApi,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigateway';
import { Certificate, CertificateValidation, type ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  type BehaviorOptions,
  CachedMethods,
  CachePolicy,
  Distribution,
  HttpVersion,
  OriginProtocolPolicy,
  OriginRequestPolicy,
  OriginSslPolicy,
  PriceClass,
  SecurityPolicyProtocol,
  SSLMethod,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { AaaaRecord, ARecord, type IHostedZone, RecordTarget } from 'aws-cdk-lib/aws-route53';
import { CloudFrontTarget } from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import type { DeployRoute } from './config-checks.ts';
import { ORIGIN_READ_TIMEOUT, ORIGIN_VERIFY_HEADER } from './defaults.ts';
import type { EdgePolicies } from './edge-policies.ts';

export interface RouteDomainProps {
  /** The route's config entry, its host and its hosted zone. */
  readonly route: DeployRoute;
  readonly zone: IHostedZone;
  /** The route host's certificate in us-east-1 (from the certificates stack). */
  readonly edgeCertificate: ICertificate;
  /** The gateway's REST API; its deployment stage is mapped at the domain's root. */
  readonly api: RestApi;
  readonly policies: EdgePolicies;
  /** Dynamic reference to the origin-verify secret, sent as {@link ORIGIN_VERIFY_HEADER}. */
  readonly originVerifyValue: string;
  /** Paths CloudFront caches (the endpoint table's cacheable rows); all others pass through uncached. */
  readonly cachedPaths: readonly string[];
  /** ARN of the AWS WAF web ACL (scope CLOUDFRONT, in us-east-1) that filters the distribution's requests. */
  readonly webAclArn: string;
}

/**
 * Everything one route host needs in front of the shared REST API: a regional certificate and
 * API Gateway custom domain for the host, a CloudFront distribution answering for the host (the
 * CIMD cached, everything else uncached with all viewer headers, every request filtered by the
 * deployment's AWS WAF web ACL), and the DNS alias records.
 *
 * CloudFront forwards `Host`, so it connects to the custom domain's regional endpoint with the
 * route host as SNI and Host; API Gateway matches the custom domain (hence the regional
 * certificate) and the functions see which route a request is for.
 */
/** The HTTP error codes CloudFront's custom error responses accept. */
const ERROR_CODES_NOT_CACHED = [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504];

export class RouteDomain extends Construct {
  public readonly regionalCertificate: Certificate;
  public readonly domainName: DomainName;
  public readonly distribution: Distribution;

  constructor(scope: Construct, id: string, props: RouteDomainProps) {
    super(scope, id);
    const { host } = props.route;

    this.regionalCertificate = new Certificate(this, 'RegionalCertificate', {
      domainName: host,
      validation: CertificateValidation.fromDns(props.zone),
    });

    this.domainName = new DomainName(this, 'ApiDomain', {
      domainName: host,
      certificate: this.regionalCertificate,
      endpointType: EndpointType.REGIONAL,
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    new BasePathMapping(this, 'ApiMapping', {
      domainName: this.domainName,
      restApi: props.api,
      stage: props.api.deploymentStage,
    });

    const origin = new HttpOrigin(this.domainName.domainNameAliasDomainName, {
      protocolPolicy: OriginProtocolPolicy.HTTPS_ONLY,
      originSslProtocols: [OriginSslPolicy.TLS_V1_2],
      customHeaders: { [ORIGIN_VERIFY_HEADER]: props.originVerifyValue },
      readTimeout: ORIGIN_READ_TIMEOUT,
    });

    const cached: BehaviorOptions = {
      origin,
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      // Only GET and HEAD are cached; the other methods still reach the function, which answers
      // OPTIONS preflights and refuses the rest with 405 and Allow.
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachedMethods: CachedMethods.CACHE_GET_HEAD,
      cachePolicy: props.policies.cachedDocument,
      originRequestPolicy: props.policies.hostOnly,
      responseHeadersPolicy: props.policies.securityHeaders,
      compress: true,
    };

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `MCP Edge ${host}`,
      domainNames: [host],
      certificate: props.edgeCertificate,
      sslSupportMethod: SSLMethod.SNI,
      minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
      httpVersion: HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      priceClass: PriceClass.PRICE_CLASS_ALL,
      enableLogging: false,
      webAclId: props.webAclArn,
      defaultBehavior: {
        origin,
        // OAuth and MCP requests carry credentials: refuse plain HTTP rather than redirect it.
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        allowedMethods: AllowedMethods.ALLOW_ALL,
        cachePolicy: CachePolicy.CACHING_DISABLED,
        // Every viewer header (Host, Authorization, Mcp-Session-Id, cookies) and query string.
        originRequestPolicy: OriginRequestPolicy.ALL_VIEWER,
        responseHeadersPolicy: props.policies.securityHeaders,
        // Never buffer a streamed response to compress it.
        compress: false,
      },
      additionalBehaviors: Object.fromEntries(props.cachedPaths.map((path) => [path, cached])),
      // CloudFront keeps an error answer 10 s by default, also on the uncached behaviour: one
      // person's 401, 404 or 502 must not be served to the next request. Every error code CloudFront
      // lets one configure, not cached at all.
      errorResponses: ERROR_CODES_NOT_CACHED.map((httpStatus) => ({ httpStatus, ttl: Duration.seconds(0) })),
    });
    this.acknowledgeDistributionFindings(host);

    const target = RecordTarget.fromAlias(new CloudFrontTarget(this.distribution));
    new ARecord(this, 'AliasA', { zone: props.zone, recordName: host, target });
    new AaaaRecord(this, 'AliasAaaa', { zone: props.zone, recordName: host, target });
  }

  private acknowledgeDistributionFindings(host: string): void {
    const findings: Record<string, string> = {
      'AwsSolutions-CFR1': `The ${host} distribution serves MCP clients and OAuth redirects from anywhere; there is no geography to restrict.`,
      'AwsSolutions-CFR3': `CloudFront standard logging for ${host} is off: legacy logging needs an S3 bucket with ACLs enabled, and logging v2 must be configured in us-east-1. Every request that reaches the origin (all but cached CIMD hits, which are a public document) is in the API Gateway access log with its host, path, status and latency.`,
    };
    for (const [id, reason] of Object.entries(findings)) {
      Validations.of(this.distribution).acknowledge({ id, reason });
    }
  }
}
