import { Duration } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { CLOUDFRONT_CERTIFICATE_REGION } from './defaults.ts';

/**
 * Rules of AWS's common rule set that would refuse ordinary OAuth and MCP traffic, so they only
 * count (their matches still show in the web ACL's metrics). Each with the traffic it would break.
 */
export const COMMON_RULES_COUNTED: Readonly<Record<string, string>> = {
  SizeRestrictions_BODY:
    'blocks bodies over 8 KB; MCP requests carry up to 4 MiB (tool arguments, file contents) and the proxy enforces that limit itself',
  NoUserAgent_HEADER:
    'blocks requests without User-Agent; MCP clients are programs, and some SDK transports send none',
  SizeRestrictions_QUERYSTRING:
    'blocks query strings over 2 KB; an upstream authorization server returns its code, state and iss to the callback, and some codes (Microsoft Entra ID) are over a kilobyte',
  GenericRFI_QUERYARGUMENTS:
    'blocks query values that are URLs with an IP address host; native MCP clients (VS Code, Claude Code) send redirect_uri=http://127.0.0.1:PORT/… to authorize, as RFC 8252 asks',
  GenericRFI_BODY:
    'blocks bodies with URLs on an IP address host: the loopback redirect_uri of native clients in token requests and registrations, and any such URL in an MCP tool call',
  CrossSiteScripting_BODY:
    'blocks bodies that look like HTML with script; MCP tool arguments are data (an agent writing a web page), which the proxy never renders',
  GenericLFI_BODY:
    'blocks bodies with ../ sequences; file paths are ordinary MCP tool arguments, and the proxy interprets no path in a body',
  EC2MetaDataSSRF_BODY:
    'blocks bodies naming the instance metadata address; the gateway fetches nothing a body names, and MCP tool arguments may legitimately mention it',
};

/** What a client refused by a rate rule receives (429), as JSON with the gateway's refusal code. */
const RATE_LIMITED_BODY = JSON.stringify({
  error: 'rate_limited',
  error_description: 'Too many requests from this address. Wait a few minutes, then try again.',
});

/** AWS WAF's own rule name for the metric of every rule together. */
const ALL_RULES = 'ALL';

export interface EdgeWebAclProps {
  /** The web ACL's name, also its CloudWatch metric name (the `WebACL` dimension). */
  readonly name: string;
  /** Requests any one client address may send in five minutes, to every path. */
  readonly requestsPerFiveMinutesPerIp: number;
  /** Requests one client address may send in five minutes to the entry points. */
  readonly entryPointRequestsPerFiveMinutesPerIp: number;
  /**
   * The entry points (the endpoint table's `entry` rows): a request whose path starts with one of
   * these counts against the smaller budget too.
   */
  readonly entryPointPaths: readonly string[];
}

/**
 * The AWS WAF web ACL in front of every route's CloudFront distribution (scope CLOUDFRONT, so it
 * must be created in us-east-1). In priority order:
 *
 * 1. `EntryPointsPerIp`: a rate-based rule per client address on the entry points (sign-in,
 *    authorize, token, registration, revocation) — anonymous requests that cost a table write, a
 *    KMS signature or an identity-provider round trip;
 * 2. `RequestsPerIp`: a rate-based rule per client address on everything;
 * 3. `KnownBadInputs`: AWS's rule group for exploit payloads (Log4Shell, Java deserialization,
 *    exploitable paths), which no OAuth or MCP request needs;
 * 4. `CommonRuleSet`: AWS's common rule set, with the rules that would refuse ordinary OAuth and
 *    MCP traffic only counting ({@link COMMON_RULES_COUNTED}).
 *
 * Rate rules answer `429` with a JSON body naming `rate_limited`; the managed rules answer `403`.
 * The address is the one CloudFront sees (the client's, or its proxy's): people behind one NAT
 * share a budget. One web ACL serves every distribution of the deployment, and a rate rule counts
 * an address's requests over all of them.
 *
 * CloudWatch metrics are on for the web ACL and each rule. Sampled requests are off: AWS WAF keeps
 * samples with all their headers (the `Authorization` bearer token, session cookies) for three
 * hours, readable in the console, and sampling has no redaction. WAF logging is off for the same
 * reason and its cost; the API Gateway access log records every request that passed.
 */
export class EdgeWebAcl extends Construct {
  public readonly webAcl: CfnWebACL;
  /** The name of the web ACL, which is also its metric name. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: EdgeWebAclProps) {
    super(scope, id);
    if (props.entryPointPaths.length === 0) throw new Error('EdgeWebAcl needs at least one entry point path');
    this.name = props.name;

    const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      metricName,
      sampledRequestsEnabled: false,
    });
    const rateLimited: CfnWebACL.RuleActionProperty = {
      block: { customResponse: { responseCode: 429, customResponseBodyKey: 'rate-limited' } },
    };
    // A path that starts with another entry point is matched by that one already.
    const prefixes = props.entryPointPaths.filter(
      (path, _, all) => !all.some((other) => other !== path && path.startsWith(other)),
    );
    const entryPointMatches = [...new Set(prefixes)].map(
      (path): CfnWebACL.StatementProperty => ({
        byteMatchStatement: {
          fieldToMatch: { uriPath: {} },
          positionalConstraint: 'STARTS_WITH',
          searchString: path,
          // `/.pomerium/%6Cogin` is the same path to API Gateway.
          textTransformations: [{ priority: 0, type: 'URL_DECODE' }],
        },
      }),
    );
    const managed = (name: string, ruleActionOverrides?: CfnWebACL.RuleActionOverrideProperty[]) => ({
      managedRuleGroupStatement: {
        vendorName: 'AWS',
        name,
        ...(ruleActionOverrides ? { ruleActionOverrides } : {}),
      },
    });

    const rules: CfnWebACL.RuleProperty[] = [
      {
        name: 'EntryPointsPerIp',
        priority: 0,
        action: rateLimited,
        statement: {
          rateBasedStatement: {
            limit: props.entryPointRequestsPerFiveMinutesPerIp,
            evaluationWindowSec: Duration.minutes(5).toSeconds(),
            aggregateKeyType: 'IP',
            scopeDownStatement:
              entryPointMatches.length === 1
                ? entryPointMatches[0]!
                : { orStatement: { statements: entryPointMatches } },
          },
        },
        visibilityConfig: visibility('EntryPointsPerIp'),
      },
      {
        name: 'RequestsPerIp',
        priority: 1,
        action: rateLimited,
        statement: {
          rateBasedStatement: {
            limit: props.requestsPerFiveMinutesPerIp,
            evaluationWindowSec: Duration.minutes(5).toSeconds(),
            aggregateKeyType: 'IP',
          },
        },
        visibilityConfig: visibility('RequestsPerIp'),
      },
      {
        name: 'KnownBadInputs',
        priority: 2,
        overrideAction: { none: {} },
        statement: managed('AWSManagedRulesKnownBadInputsRuleSet'),
        visibilityConfig: visibility('KnownBadInputs'),
      },
      {
        name: 'CommonRuleSet',
        priority: 3,
        overrideAction: { none: {} },
        statement: managed(
          'AWSManagedRulesCommonRuleSet',
          Object.keys(COMMON_RULES_COUNTED).map((name) => ({ name, actionToUse: { count: {} } })),
        ),
        visibilityConfig: visibility('CommonRuleSet'),
      },
    ];

    this.webAcl = new CfnWebACL(this, 'WebAcl', {
      name: props.name,
      description: 'MCP Edge: rate limits per client address and AWS managed rules for every route host',
      scope: 'CLOUDFRONT',
      defaultAction: { allow: {} },
      customResponseBodies: {
        'rate-limited': { contentType: 'APPLICATION_JSON', content: RATE_LIMITED_BODY },
      },
      rules,
      visibilityConfig: visibility(props.name),
    });
  }

  /**
   * Requests a rule (default: any rule) blocked, summed over five minutes. The metric is in
   * us-east-1, where CloudFront's web ACLs report; an alarm on it must be there too.
   */
  metricBlockedRequests(rule: string = ALL_RULES): Metric {
    return this.metric('BlockedRequests', rule);
  }

  /** Requests the web ACL let through (its default action), summed over five minutes. */
  metricAllowedRequests(): Metric {
    return this.metric('AllowedRequests', ALL_RULES);
  }

  /** Requests a counting rule matched (the {@link COMMON_RULES_COUNTED} among them). */
  metricCountedRequests(rule: string = ALL_RULES): Metric {
    return this.metric('CountedRequests', rule);
  }

  private metric(metricName: string, rule: string): Metric {
    return new Metric({
      namespace: 'AWS/WAFV2',
      metricName,
      dimensionsMap: { WebACL: this.name, Rule: rule },
      statistic: 'Sum',
      period: Duration.minutes(5),
      region: CLOUDFRONT_CERTIFICATE_REGION,
    });
  }
}
