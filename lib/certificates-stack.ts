import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Certificate, CertificateValidation, type ICertificate } from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';
import type { DeployRoute } from './config-checks.ts';
import { CLOUDFRONT_CERTIFICATE_REGION } from './defaults.ts';
import { importHostedZone } from './hosted-zone.ts';
import { routeConstructId } from './route-id.ts';

export interface CertificatesStackProps extends StackProps {
  readonly account: string;
  readonly routes: readonly DeployRoute[];
}

/**
 * The CloudFront certificates, one per route host, in us-east-1 (the only region CloudFront takes
 * certificates from), DNS-validated in the route's hosted zone. The gateway stack reads their ARNs
 * as weak cross-region references: a stack output here, `Fn::GetStackOutput` there (see
 * `GatewayStack`).
 */
export class CertificatesStack extends Stack {
  private readonly byHost = new Map<string, ICertificate>();

  constructor(scope: Construct, id: string, props: CertificatesStackProps) {
    super(scope, id, {
      ...props,
      env: { account: props.account, region: CLOUDFRONT_CERTIFICATE_REGION },
      description: 'MCP Edge: CloudFront certificates (us-east-1), one per route host',
    });
    for (const route of props.routes) {
      // The same per-host construct ID as the route's resources in the gateway stack.
      const routeScope = new Construct(this, routeConstructId(route.host));
      const certificate = new Certificate(routeScope, 'EdgeCertificate', {
        domainName: route.host,
        validation: CertificateValidation.fromDns(importHostedZone(this, route.zone)),
      });
      // Removing a route must not try to delete a certificate its distribution still uses (ACM
      // refuses, and the stack update would fail): the certificate is left behind, free of charge.
      certificate.applyRemovalPolicy(RemovalPolicy.RETAIN);
      this.byHost.set(route.host, certificate);
    }
  }

  /** The us-east-1 certificate for a route host. */
  certificateFor(host: string): ICertificate {
    const certificate = this.byHost.get(host);
    if (!certificate) throw new Error(`No CloudFront certificate for ${host}`);
    return certificate;
  }
}
