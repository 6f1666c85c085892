import { beforeAll, describe, expect, it } from 'vitest';
import { CIMD_PATH } from '../../functions/core/routes.ts';
import { routeConstructId } from '../../lib/route-id.ts';
import { readFixture, resourcesUnder, type Synthesized, synthesize } from './synth.ts';

const HOSTS = ['mcp.example.com', 'docs.mcp.example.com', 'tools.example.org'] as const;
const ZONE_OF: Record<(typeof HOSTS)[number], string> = {
  'mcp.example.com': 'Z0EXAMPLECOM0001',
  'docs.mcp.example.com': 'Z0EXAMPLECOM0001',
  'tools.example.org': 'Z0EXAMPLEORG0002',
};

let s: Synthesized;
beforeAll(() => {
  s = synthesize(readFixture('infra-three-routes.config.json'));
});

/** The one resource of a type among a route's resources. */
function routeResource(template: 'certificates' | 'gateway', host: string, type: string) {
  const t = template === 'certificates' ? s.certificatesTemplate : s.gatewayTemplate;
  const matches = Object.entries(resourcesUnder(t, routeConstructId(host))).filter(
    ([, r]) => r.Type === type,
  );
  expect(matches, `${type} for ${host}`).toHaveLength(1);
  const [logicalId, resource] = matches[0]!;
  return {
    logicalId,
    properties: (resource as unknown as { Properties: Record<string, unknown> }).Properties,
  };
}

describe('stacks', () => {
  it('puts the CloudFront certificates in us-east-1 and the gateway in the configured region and account', () => {
    expect(s.certificates.region).toBe('us-east-1');
    expect(s.certificates.account).toBe('111122223333');
    expect(s.gateway.region).toBe('eu-central-1');
    expect(s.gateway.account).toBe('111122223333');
  });

  it('makes the gateway stack depend on the certificates stack', () => {
    expect(s.gateway.dependencies).toContain(s.certificates);
  });
});

describe.each(HOSTS)('route %s', (host) => {
  it('has one DNS-validated certificate in us-east-1, in its hosted zone', () => {
    const { properties } = routeResource('certificates', host, 'AWS::CertificateManager::Certificate');
    expect(properties).toMatchObject({
      DomainName: host,
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: host, HostedZoneId: ZONE_OF[host] }],
    });
  });

  it('has one DNS-validated certificate in the gateway region', () => {
    const { properties } = routeResource('gateway', host, 'AWS::CertificateManager::Certificate');
    expect(properties).toMatchObject({
      DomainName: host,
      ValidationMethod: 'DNS',
      DomainValidationOptions: [{ DomainName: host, HostedZoneId: ZONE_OF[host] }],
    });
  });

  it('has a REGIONAL TLS 1.2 custom domain with the regional certificate, mapped to the API stage', () => {
    const cert = routeResource('gateway', host, 'AWS::CertificateManager::Certificate');
    const domain = routeResource('gateway', host, 'AWS::ApiGateway::DomainName');
    expect(domain.properties).toEqual({
      DomainName: host,
      EndpointConfiguration: { Types: ['REGIONAL'] },
      RegionalCertificateArn: { Ref: cert.logicalId },
      SecurityPolicy: 'TLS_1_2',
    });
    const mapping = routeResource('gateway', host, 'AWS::ApiGateway::BasePathMapping');
    expect(mapping.properties).toMatchObject({
      DomainName: { Ref: domain.logicalId },
      RestApiId: { Ref: expect.stringMatching('^GatewayApi') },
      Stage: { Ref: expect.stringMatching('^GatewayApiDeploymentStagelive') },
    });
  });

  it('has a distribution for the host with the us-east-1 certificate, TLS 1.2 (2021), HTTP/2 and 3', () => {
    const edgeCert = routeResource('certificates', host, 'AWS::CertificateManager::Certificate');
    const { properties } = routeResource('gateway', host, 'AWS::CloudFront::Distribution');
    const config = properties.DistributionConfig as Record<string, unknown>;
    expect(config.Aliases).toEqual([host]);
    expect(config.HttpVersion).toBe('http2and3');
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: {
        'Fn::GetStackOutput': {
          StackName: 'McpEdgeCertificates',
          Region: 'us-east-1',
          OutputName: expect.stringContaining(edgeCert.logicalId),
        },
      },
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    const output = (
      config.ViewerCertificate as { AcmCertificateArn: { 'Fn::GetStackOutput': { OutputName: string } } }
    ).AcmCertificateArn['Fn::GetStackOutput'].OutputName;
    expect(s.certificatesTemplate.toJSON().Outputs[output]).toEqual({ Value: { Ref: edgeCert.logicalId } });
  });

  it('sends CloudFront to the custom domain over HTTPS (TLS 1.2) with the origin-verify header from Secrets Manager', () => {
    const domain = routeResource('gateway', host, 'AWS::ApiGateway::DomainName');
    const { properties } = routeResource('gateway', host, 'AWS::CloudFront::Distribution');
    const origins = (properties.DistributionConfig as { Origins: unknown[] }).Origins;
    expect(origins).toHaveLength(1);
    expect(origins[0]).toMatchObject({
      DomainName: { 'Fn::GetAtt': [domain.logicalId, 'RegionalDomainName'] },
      CustomOriginConfig: { OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'] },
      OriginCustomHeaders: [
        {
          HeaderName: 'x-mcp-edge-origin-verify',
          HeaderValue: {
            'Fn::Join': [
              '',
              [
                '{{resolve:secretsmanager:',
                { Ref: expect.stringMatching('^OriginVerifySecret') },
                ':SecretString:::}}',
              ],
            ],
          },
        },
      ],
    });
  });

  it('caches the CIMD path with the shared path-only cache policy, forwarding only Host', () => {
    const { properties } = routeResource('gateway', host, 'AWS::CloudFront::Distribution');
    const config = properties.DistributionConfig as { CacheBehaviors: Record<string, unknown>[] };
    expect(config.CacheBehaviors).toHaveLength(1);
    expect(config.CacheBehaviors[0]).toMatchObject({
      PathPattern: CIMD_PATH,
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
      CachedMethods: ['GET', 'HEAD'],
      CachePolicyId: { Ref: expect.stringMatching('^EdgePoliciesCachedDocument') },
      OriginRequestPolicyId: { Ref: expect.stringMatching('^EdgePoliciesHostOnly') },
      ResponseHeadersPolicyId: { Ref: expect.stringMatching('^EdgePoliciesSecurityHeaders') },
      ViewerProtocolPolicy: 'redirect-to-https',
    });
  });

  it('passes everything else through uncached with all viewer headers and all methods, HTTPS only', () => {
    const { properties } = routeResource('gateway', host, 'AWS::CloudFront::Distribution');
    const config = properties.DistributionConfig as { DefaultCacheBehavior: Record<string, unknown> };
    expect(config.DefaultCacheBehavior).toMatchObject({
      // AWS managed policies: CachingDisabled and AllViewer.
      CachePolicyId: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
      OriginRequestPolicyId: '216adef6-5c7f-47e4-b989-5492eafa07d3',
      AllowedMethods: ['GET', 'HEAD', 'OPTIONS', 'PUT', 'PATCH', 'POST', 'DELETE'],
      ViewerProtocolPolicy: 'https-only',
      ResponseHeadersPolicyId: { Ref: expect.stringMatching('^EdgePoliciesSecurityHeaders') },
    });
  });

  // Regression (issue 9 item 6): CloudFront cached API Gateway's and the functions' error answers
  // for its default 10 s, also on the uncached behaviour.
  it('caches no error answer: every configurable error code has an error caching TTL of 0', () => {
    const { properties } = routeResource('gateway', host, 'AWS::CloudFront::Distribution');
    const config = properties.DistributionConfig as { CustomErrorResponses: Record<string, unknown>[] };
    expect(config.CustomErrorResponses).toEqual(
      [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504].map((ErrorCode) => ({
        ErrorCode,
        ErrorCachingMinTTL: 0,
      })),
    );
  });

  it.each([
    ['A', 'AWS::Route53::RecordSet'],
    ['AAAA', 'AWS::Route53::RecordSet'],
  ])('has a %s alias record for the host pointing at its distribution', (recordType) => {
    const distribution = routeResource('gateway', host, 'AWS::CloudFront::Distribution');
    const records = Object.values(resourcesUnder(s.gatewayTemplate, routeConstructId(host))).filter(
      (r) => r.Type === 'AWS::Route53::RecordSet',
    ) as unknown as { Properties: Record<string, unknown> }[];
    const matching = records.filter((r) => r.Properties.Type === recordType);
    expect(matching).toHaveLength(1);
    expect(matching[0]!.Properties).toMatchObject({
      Name: `${host}.`,
      HostedZoneId: ZONE_OF[host],
      AliasTarget: { DNSName: { 'Fn::GetAtt': [distribution.logicalId, 'DomainName'] } },
    });
  });
});

describe('shared CloudFront policies', () => {
  it('keys the CIMD cache on the path only and lets the edge keep it for up to a day', () => {
    s.gatewayTemplate.resourceCountIs('AWS::CloudFront::CachePolicy', 1);
    s.gatewayTemplate.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: {
        MinTTL: 0,
        DefaultTTL: 3600,
        MaxTTL: 86400,
        ParametersInCacheKeyAndForwardedToOrigin: {
          CookiesConfig: { CookieBehavior: 'none' },
          HeadersConfig: { HeaderBehavior: 'none' },
          QueryStringsConfig: { QueryStringBehavior: 'none' },
        },
      },
    });
  });

  it('forwards Host (only) to the origin on the cached behavior', () => {
    s.gatewayTemplate.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: {
        CookiesConfig: { CookieBehavior: 'none' },
        HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['Host'] },
        QueryStringsConfig: { QueryStringBehavior: 'none' },
      },
    });
  });

  it('sends HSTS for at least a year, including subdomains', () => {
    const policies = s.gatewayTemplate.findResources('AWS::CloudFront::ResponseHeadersPolicy');
    const [policy] = Object.values(policies) as {
      Properties: { ResponseHeadersPolicyConfig: { SecurityHeadersConfig: Record<string, never> } };
    }[];
    const hsts = policy!.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig
      .StrictTransportSecurity as unknown as { AccessControlMaxAgeSec: number; IncludeSubdomains: boolean };
    expect(hsts.AccessControlMaxAgeSec).toBeGreaterThanOrEqual(31_536_000);
    expect(hsts.IncludeSubdomains).toBe(true);
  });
});
